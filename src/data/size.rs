//! Image sizes given on the command line (`--size`, `--crop`): one rule for every command.
//!
//! A size is `HxW` (or `HXW`), each side a whole number from [`MIN_SIDE`] (the smallest image
//! the network takes: its deepest level is 1/32 of the input, so 65 px leaves it 3 cells) to
//! [`MAX_SIDE`] (the largest image [`super::image_io`] reads). Generated scenes, inputs, crops
//! and cost counts all obey it, so a size one command accepts, every other command accepts too.

pub use super::image_io::MAX_SIDE;

/// The smallest side of any size (the smallest image the network takes).
pub const MIN_SIDE: u32 = 65;

/// A size that does not follow the rule; each names the flag and the value given.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SizeError {
    #[error("{flag} `{value}`: expected HxW, e.g. 1025x2049")]
    Form { flag: String, value: String },
    #[error("{flag} `{value}`: `{side}` is not a whole number (expected HxW, e.g. 1025x2049)")]
    NotANumber { flag: String, value: String, side: String },
    #[error("{flag} `{value}`: each side must be at least {MIN_SIDE} and at most {MAX_SIDE}")]
    OutOfRange { flag: String, value: String },
}

/// Parses the value of `flag` as (height, width) by the rule above.
pub fn parse_size(flag: &str, value: &str) -> Result<(u32, u32), SizeError> {
    let (h, w) =
        value.split_once(['x', 'X']).ok_or_else(|| SizeError::Form { flag: flag.into(), value: value.into() })?;
    let side = |v: &str| {
        v.trim().parse::<u32>().map_err(|_| SizeError::NotANumber {
            flag: flag.into(),
            value: value.into(),
            side: v.into(),
        })
    };
    let (h, w) = (side(h)?, side(w)?);
    let ok = |v: u32| (MIN_SIDE..=MAX_SIDE).contains(&v);
    if !(ok(h) && ok(w)) {
        return Err(SizeError::OutOfRange { flag: flag.into(), value: value.into() });
    }
    Ok((h, w))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_follow_one_rule_and_errors_name_the_flag() {
        assert_eq!(parse_size("--size", "1025x2049"), Ok((1025, 2049)));
        assert_eq!(parse_size("--crop", " 65X97 "), Ok((65, 97)));
        assert_eq!(parse_size("--size", "65x16384"), Ok((65, 16384)));
        let err = |v: &str| parse_size("--size", v).unwrap_err().to_string();
        assert_eq!(err("65x9a"), "--size `65x9a`: `9a` is not a whole number (expected HxW, e.g. 1025x2049)");
        assert_eq!(err("256"), "--size `256`: expected HxW, e.g. 1025x2049");
        assert!(err("64x129").contains("at least 65"), "{}", err("64x129"));
        assert!(err("65x16385").contains("at most 16384"), "{}", err("65x16385"));
        assert!(parse_size("--crop", "-1x65").unwrap_err().to_string().starts_with("--crop `-1x65`"));
    }
}
