-- spikecap: write one record (a tick, or a shed bucket's summary) atomically.
-- ARGV[1]  key prefix, e.g. "spikecap:node1:"
-- ARGV[2]  the record's time (ms); skipped when not newer than <prefix>written_until,
--          which makes replays after a crash idempotent
-- ARGV[3]  number of sections; then 9 arguments per section:
--          tier key segment ("raw:1s", "rollup:10s"), chunk index, byte offset in the chunk,
--          slot width, chunk size in bytes, expire-at (ms), "1" when keys may be new (the
--          writer's first write of this chunk and names) or "", names ("\n"-joined),
--          data (width bytes per name; all-zero slots, i.e. missing values, are skipped).
-- Returns 1 when written, 0 when the record was already written.
local prefix = ARGV[1]
local ts = tonumber(ARGV[2])
local wmKey = prefix .. 'written_until'
local wm = tonumber(redis.call('GET', wmKey) or '-1')
if ts <= wm then
  return 0
end
local t = redis.call('TIME')
local nowMs = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local nsec = tonumber(ARGV[3])
local a = 4
for _ = 1, nsec do
  local tier, chunk, offset, width = ARGV[a], ARGV[a + 1], tonumber(ARGV[a + 2]), tonumber(ARGV[a + 3])
  local chunkBytes, expireAt, check = tonumber(ARGV[a + 4]), tonumber(ARGV[a + 5]), ARGV[a + 6] ~= ''
  local names, data = ARGV[a + 7], ARGV[a + 8]
  a = a + 9
  -- A chunk already past its retention (a replay after a long outage) is not written: it
  -- would only be deleted again, or worse, outlive its expiry.
  if expireAt > nowMs then
    local empty = string.rep('\0', width)
    local head, tail = prefix .. tier .. ':', ':' .. chunk
    local last = chunkBytes - width
    local sub, call = string.sub, redis.call
    local i = 0
    for name in string.gmatch(names, '[^\n]+') do
      local v = sub(data, i + 1, i + width)
      i = i + width
      if v ~= empty then
        local key = head .. name .. tail
        if check and call('STRLEN', key) == 0 then
          -- A new chunk: size the string once, so it never grows piecemeal (Redis would
          -- over-allocate), and give it its expiry.
          call('SETRANGE', key, last, empty)
          call('PEXPIREAT', key, expireAt)
          call('SETRANGE', key, offset, v)
        else
          -- Keys the writer believed to exist: if one did not (a series missing on the
          -- chunk's first write), the length gives it away; it still gets its expiry.
          local len = call('SETRANGE', key, offset, v)
          if len < chunkBytes or offset == last then
            call('PEXPIREAT', key, expireAt)
          end
        end
      end
    end
  end
end
redis.call('SET', wmKey, ARGV[2])
return 1
