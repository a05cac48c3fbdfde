//! Tag epochs in Redis: the fields of one hash, `{prefix}tags`, tag →
//! decimal epoch.
//!
//! A bump is `HINCRBY`, which Redis applies atomically, so two instances
//! bumping the same tag at once get two different epochs. A raise must
//! never lower an epoch, which a plain `HSET` would do if it lost a race
//! with a bump: it runs as a Lua script, atomic on the server.

use crate::tier::TierError;

use super::errors::TIER;

/// Sets `KEYS[1]`'s field `ARGV[1]` to `ARGV[2]` if that is greater than
/// the current value (absent counts as zero); returns 1 if it did.
///
/// Compares decimal strings (length, then digit by digit) rather than Lua
/// numbers, which are doubles and lose exactness above 2^53; byte by byte
/// rather than with `>` on strings, which follows the server's locale.
/// Epochs are written without leading zeros by both `HINCRBY` and the tier.
pub(super) const RAISE_SCRIPT: &str = r"
local current = redis.call('HGET', KEYS[1], ARGV[1])
local wanted = ARGV[2]
local function greater(a, b)
  if #a ~= #b then return #a > #b end
  for i = 1, #a do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x > y end
  end
  return false
end
if not current or greater(wanted, current) then
  redis.call('HSET', KEYS[1], ARGV[1], wanted)
  return 1
end
return 0
";

/// The largest epoch Redis can hold: `HINCRBY` works on signed 64-bit
/// integers, so a higher raise would make every later bump of the tag fail.
pub(super) const MAX_EPOCH: u64 = i64::MAX as u64;

/// The epoch `HINCRBY` returned, which only a hash edited by hand can make
/// negative.
pub(super) fn epoch_from_redis(tag: &str, value: i64) -> Result<u64, TierError> {
    u64::try_from(value).map_err(|_| {
        TierError::engine(
            TIER,
            format!("tag {tag:?} has the negative epoch {value} in Redis"),
        )
    })
}

/// Refuses a raise above [`MAX_EPOCH`].
pub(super) fn check_raise(tag: &str, epoch: u64) -> Result<(), TierError> {
    if epoch > MAX_EPOCH {
        return Err(TierError::engine(
            TIER,
            format!("cannot raise tag {tag:?} to {epoch}: Redis counts epochs up to {MAX_EPOCH}"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epochs_outside_redis_range_are_engine_errors() {
        assert_eq!(epoch_from_redis("t", 7).ok(), Some(7));
        assert!(matches!(
            epoch_from_redis("t", -1),
            Err(TierError::Engine { .. })
        ));
        assert!(check_raise("t", MAX_EPOCH).is_ok());
        assert!(matches!(
            check_raise("t", MAX_EPOCH + 1),
            Err(TierError::Engine { .. })
        ));
    }
}
