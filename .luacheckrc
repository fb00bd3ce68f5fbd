-- luacheck (Debian: lua-check) over the repository's Lua: the ctest
-- lint/luacheck runs `luacheck .` from the root with this file.
std = "lua54"
-- no line length limit: spec descriptions quote RFC rules whole, and the
-- C side's limit (.clang-format) is about code, not prose
max_line_length = false
-- the busted specs and their helpers: describe, it, assert, ...
files["spec"] = { std = "+busted" }
exclude_files = { "build*/**" }
