-- A screenshot of the walkthrough's SVG ladder taken with Debian's chromium,
-- headless, checked to be a real picture and not a blank page. It needs
-- chromium (the ctest label "tools"; the README's test install line and
-- .ci/run install it): without it the spec fails, saying so.
local example = require "helpers.example"

local shell = require "helpers.shell"
local sh, tmpdir, slurp, write, have = shell.sh, shell.tmpdir, shell.slurp, shell.write, shell.have

-- PNG: the signature, then chunks (length, type, data, CRC-32 of type and
-- data) from IHDR to IEND. Returns { width, height, idat = bytes }.
local CRC = {}
for i = 0, 255 do
  local c = i
  for _ = 1, 8 do c = (c & 1 == 1) and (0xEDB88320 ~ (c >> 1)) or (c >> 1) end
  CRC[i] = c
end
local function crc32(s, i, j)
  local c = 0xFFFFFFFF
  for k = i, j do c = CRC[(c ~ s:byte(k)) & 0xFF] ~ (c >> 8) end
  return c ~ 0xFFFFFFFF
end
local function png_info(data)
  if data:sub(1, 8) ~= "\137PNG\r\n\26\n" then return nil, "no PNG signature" end
  local pos, info, first, last = 9, { idat = 0 }, nil, nil
  while pos <= #data do
    if pos + 11 > #data then return nil, "a truncated chunk" end
    local len, kind = (">I4c4"):unpack(data, pos)
    if pos + 11 + len > #data then return nil, "a truncated " .. kind .. " chunk" end
    local crc = (">I4"):unpack(data, pos + 8 + len)
    if crc ~= crc32(data, pos + 4, pos + 7 + len) then return nil, "a bad CRC in " .. kind end
    first = first or kind
    last = kind
    if kind == "IHDR" then info.width, info.height = (">I4I4"):unpack(data, pos + 8) end
    if kind == "IDAT" then info.idat = info.idat + len end
    pos = pos + 12 + len
  end
  if first ~= "IHDR" or last ~= "IEND" then return nil, "chunks not from IHDR to IEND" end
  return info
end

-- the seed walkthrough, run as the CLI runs it
local function walkthrough()
  local run = example.run("examples/seed_walkthrough.lua")
  return run.nets[1]
end

describe("a screenshot of the walkthrough's SVG", function()
  local W, H = 1400, 2000
  local function screenshot(svg_path, png_path, dir)
    local cmd = ("timeout 120 chromium --headless --no-sandbox --disable-gpu --disable-background-networking "
      .. "--disable-component-update --disable-sync --no-first-run --user-data-dir=%s/profile "
      .. "--screenshot=%s --window-size=%d,%d file://%s"):format(dir, png_path, W, H, svg_path)
    return sh(cmd)
  end

  it("in Debian's chromium, headless, is a picture, not a blank page", function()
    -- a missing chromium fails the spec: the README's install line and .ci/run install it
    assert(have("chromium"), "chromium is not installed: apt-get install chromium")
    local dir = tmpdir()
    finally(function() os.execute("rm -rf " .. dir) end)
    assert.is_true(walkthrough():trace():svg(dir .. "/w.svg"))
    -- a blank page of the same size, for comparison
    write(dir .. "/blank.svg", '<svg xmlns="http://www.w3.org/2000/svg" width="992" height="1516"/>\n')
    local out = screenshot(dir .. "/w.svg", dir .. "/w.png", dir)
    local png = io.open(dir .. "/w.png", "rb")
    assert(png, "chromium wrote no screenshot:\n" .. out)
    png:close()
    screenshot(dir .. "/blank.svg", dir .. "/blank.png", dir)

    local info = assert(png_info(slurp(dir .. "/w.png")))
    assert.equal(W, info.width)
    assert.equal(H, info.height)
    local blank = assert(png_info(slurp(dir .. "/blank.png")))
    assert.equal(W, blank.width)
    -- a blank page compresses to almost nothing; the ladder's text, lines
    -- and boxes do not
    assert.is_true(info.idat > 20000, "the screenshot's image data is only " .. info.idat .. " bytes")
    assert.is_true(info.idat > 5 * blank.idat,
      ("the screenshot (%d bytes) is not much more than a blank page (%d bytes)"):format(info.idat, blank.idat))
  end)
end)
