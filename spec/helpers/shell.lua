--- Small helpers for specs that run programs and read files: a command's
-- output and exit status, a temporary directory, a file's bytes, whether a
-- program is installed.
local shell = {}

--- Runs cmd in sh; returns its output (stdout and stderr) and exit status.
function shell.sh(cmd)
  local p = io.popen(cmd .. " 2>&1; echo \"exit=$?\"")
  local out = p:read("a")
  p:close()
  return out, tonumber(out:match("exit=(%d+)%s*$"))
end

--- A new temporary directory (mktemp -d); its path.
function shell.tmpdir()
  local p = io.popen("mktemp -d")
  local dir = p:read("l")
  p:close()
  assert(dir and dir:match("^/"), "mktemp -d failed")
  return dir
end

--- The bytes of a file.
function shell.slurp(path)
  local f = assert(io.open(path, "rb"))
  local s = f:read("a")
  f:close()
  return s
end

--- Writes text to a file.
function shell.write(path, text)
  local f = assert(io.open(path, "w"))
  f:write(text)
  f:close()
end

--- Whether a program is on the PATH.
function shell.have(cmd)
  local _, code = shell.sh("command -v " .. cmd .. " >/dev/null")
  return code == 0
end

return shell
