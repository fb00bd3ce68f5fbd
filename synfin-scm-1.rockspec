-- synfin as a rock: `luarocks make` (or `luarocks make --tree DIR`) in the
-- repository builds the C module synfin.core with CMake and installs it and
-- the Lua modules (lua/synfin/*.lua) into the tree. The C library, its
-- headers, pkg-config file and the CLI come with `cmake --install` (README).
rockspec_format = "3.0"
package = "synfin"
version = "scm-1"

source = {
  -- No published repository yet: `luarocks make` builds from the working
  -- tree and never fetches this. Set it when the project is published.
  url = "git+https://example.invalid/synfin.git",
}

description = {
  summary = "A scriptable TCP state machine",
  detailed = [[
A C11 TCP core that implements RFC 9293 (all eleven states, no clock, no I/O
of its own) driven by Lua 5.4 scripts on a deterministic virtual network: see
every segment and state change, drop, delay or craft segments, write TCP test
scenarios.]],
  labels = { "tcp", "network", "testing", "simulation" },
}

dependencies = {
  "lua >= 5.4, < 5.5",
}

build = {
  type = "cmake",
  -- Debian: cmake, pkg-config, liblua5.4-dev and libuv1-dev (CMakeLists.txt
  -- finds Lua and libuv with pkg-config).
  variables = {
    CMAKE_BUILD_TYPE = "Release",
    CMAKE_INSTALL_PREFIX = "$(PREFIX)",
    SYNFIN_BUILD_TESTS = "OFF",
    SYNFIN_INSTALL_LUA_ONLY = "ON",
    SYNFIN_INSTALL_LMOD_DIR = "$(LUADIR)",
    SYNFIN_INSTALL_CMOD_DIR = "$(LIBDIR)",
    -- synfin-agent, for synfin.kernel: the tree's bin/, beside share/lua
    SYNFIN_INSTALL_AGENT_DIR = "$(BINDIR)",
  },
}
