//! Puts that never replace a newer write: what a replay after an outage
//! needs ([`Tier::put_many_unless_newer`](crate::Tier::put_many_unless_newer)).
//!
//! The version of an entry is its envelope's `created_at_ms`, the
//! little-endian `u64` at bytes 8..16 (`docs/format.md`: "the version stamp
//! that orders two writes of one key"). A Lua script compares the stored
//! envelope's stamp with the new one's and writes only if the new one is
//! not older, atomically on the server, so no write of another instance can
//! slip in between the check and the write. It reads the stored header with
//! `GETRANGE … 0 15`, never the whole value.
//!
//! Why the stamp and not something Redis keeps: it is what the writer meant
//! ("this value as of time t"), and it survives in the value itself, with
//! no second key to keep in step. Clocks of different hosts differ, so two
//! writes closer together than that skew may be ordered wrongly; a replay
//! comes an outage after its write, far beyond any sane skew. Plain puts
//! stay unconditional for that reason: the later call wins.

/// `KEYS[i]` is the value key of write `i`; `ARGV[2i-1]` its envelope and
/// `ARGV[2i]` its TTL in ms (`0`: none; `-1`: already expired, so the key
/// is deleted instead, as a plain put does). Returns how many writes were
/// skipped because the stored envelope is newer.
///
/// Only two version-1 envelopes (magic `STRE`, version byte 1) are
/// compared; anything else stored under the key (another program's value,
/// an envelope of a later format) is replaced, as a plain put would.
/// Stamps are compared byte by byte from the most significant (byte 16,
/// 1-based, down to byte 9) rather than as Lua numbers, which are doubles.
/// Equal stamps write: replaying a write already applied changes nothing.
pub(super) const UNLESS_NEWER_SCRIPT: &str = r"
local function is_envelope(h)
  return #h >= 16 and string.sub(h, 1, 5) == 'STRE\1'
end
local function newer(a, b)
  for i = 16, 9, -1 do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return false
end
local skipped = 0
for i, key in ipairs(KEYS) do
  local bytes, ttl = ARGV[2 * i - 1], ARGV[2 * i]
  local held = redis.call('GETRANGE', key, 0, 15)
  if is_envelope(held) and is_envelope(bytes) and newer(held, bytes) then
    skipped = skipped + 1
  elseif ttl == '-1' then
    redis.call('UNLINK', key)
  elseif ttl == '0' then
    redis.call('SET', key, bytes)
  else
    redis.call('SET', key, bytes, 'PX', ttl)
  end
end
return skipped
";

/// How many writes one script call carries: the script holds the server
/// while it runs, so a long replay goes in slices that each take well under
/// a millisecond, and other clients are served between them.
pub(super) const SLICE: usize = 256;
