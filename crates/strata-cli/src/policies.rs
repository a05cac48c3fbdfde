//! The `--policies` argument shared by subcommands.

use std::str::FromStr;

use strata::Policy;
use strata::memory::UnknownPolicy;

/// A list of policies on the command line: `all` or `lru,lfu,…`.
#[derive(Debug, Clone)]
pub(crate) struct PolicyList(pub(crate) Vec<Policy>);

impl FromStr for PolicyList {
    type Err = UnknownPolicy;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.eq_ignore_ascii_case("all") {
            return Ok(Self(Policy::ALL.to_vec()));
        }
        s.split(',')
            .map(|name| name.trim().parse())
            .collect::<Result<_, _>>()
            .map(Self)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_lists_parse() {
        let all: PolicyList = "all".parse().expect("valid");
        assert_eq!(all.0, Policy::ALL);
        let two: PolicyList = "lru, size".parse().expect("valid");
        assert_eq!(two.0, [Policy::Lru, Policy::Size]);
        assert!("lru,arc".parse::<PolicyList>().is_err());
    }
}
