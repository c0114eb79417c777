//! COCO run-length encoding exactly as pycocotools (`maskApi.c`) writes it, so that
//! `pycocotools.mask.decode` gives back our mask bit for bit: runs over the pixels in column-major
//! order, starting with a run of zeros; the compressed string stores each count (from the
//! fourth on, as the difference to the count two before) in 5-bit groups, least significant
//! first, each group + 48 as one ASCII character, bit 0x20 meaning "more groups follow".

/// Run lengths of a binary mask given row-major (`mask[y * width + x]`), in COCO's column-major
/// order, beginning with a (possibly empty) run of zeros.
pub fn encode_counts(mask: &[bool], width: usize, height: usize) -> Vec<u64> {
    assert_eq!(mask.len(), width * height, "mask size");
    let mut counts = Vec::new();
    let (mut current, mut run) = (false, 0u64);
    for x in 0..width {
        for y in 0..height {
            let v = mask[y * width + x];
            if v != current {
                counts.push(run);
                run = 0;
                current = v;
            }
            run += 1;
        }
    }
    counts.push(run);
    counts
}

/// The compressed string of `counts` (pycocotools' `rleToString`).
pub fn counts_to_string(counts: &[u64]) -> String {
    let mut s = String::new();
    for (i, &c) in counts.iter().enumerate() {
        let mut x = c as i64 - if i > 2 { counts[i - 2] as i64 } else { 0 };
        loop {
            let mut group = (x & 0x1f) as u8;
            x >>= 5; // arithmetic: negative differences end in -1
            let more = if group & 0x10 != 0 { x != -1 } else { x != 0 };
            if more {
                group |= 0x20;
            }
            s.push((group + 48) as char);
            if !more {
                break;
            }
        }
    }
    s
}

/// Counts from a compressed string (pycocotools' `rleFrString`); an error names the offset of
/// a character that cannot be part of one.
pub fn string_to_counts(s: &str) -> Result<Vec<u64>, String> {
    let bytes = s.as_bytes();
    let mut counts: Vec<u64> = Vec::new();
    let mut p = 0;
    while p < bytes.len() {
        let (mut x, mut k, mut more) = (0i64, 0u32, true);
        while more {
            let b = *bytes.get(p).ok_or_else(|| format!("RLE string ends inside a count at offset {p}"))?;
            if !(48..48 + 64).contains(&b) || k > 12 {
                return Err(format!("RLE string has an invalid character at offset {p}"));
            }
            let c = i64::from(b - 48);
            x |= (c & 0x1f) << (5 * k);
            more = c & 0x20 != 0;
            p += 1;
            k += 1;
            if !more && c & 0x10 != 0 {
                x |= -1i64 << (5 * k);
            }
        }
        if counts.len() > 2 {
            x += counts[counts.len() - 2] as i64;
        }
        let x = u64::try_from(x).map_err(|_| format!("RLE string decodes to a negative count before offset {p}"))?;
        counts.push(x);
    }
    Ok(counts)
}

/// The row-major binary mask of `counts` for a `width` x `height` image.
pub fn decode_counts(counts: &[u64], width: usize, height: usize) -> Result<Vec<bool>, String> {
    let total: u64 = counts.iter().sum();
    if total != (width * height) as u64 {
        return Err(format!("RLE covers {total} pixels, the image has {}", width * height));
    }
    let mut mask = vec![false; width * height];
    let (mut i, mut value) = (0usize, false);
    for &c in counts {
        for j in i..i + c as usize {
            let (x, y) = (j / height, j % height);
            mask[y * width + x] = value;
        }
        i += c as usize;
        value = !value;
    }
    Ok(mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_handles_the_edges() {
        let (w, h) = (7, 5);
        let masks: Vec<Vec<bool>> = vec![
            vec![false; w * h],
            vec![true; w * h],
            (0..w * h).map(|i| (i * 7919) % 13 < 5).collect(),
            (0..w * h).map(|i| i % w == 3).collect(),
        ];
        for m in masks {
            let counts = encode_counts(&m, w, h);
            let s = counts_to_string(&counts);
            assert_eq!(string_to_counts(&s).unwrap(), counts, "{s}");
            assert_eq!(decode_counts(&counts, w, h).unwrap(), m);
        }
        // all ones starts with an empty run of zeros
        assert_eq!(encode_counts(&[true; 4], 2, 2), vec![0, 4]);
    }

    #[test]
    fn large_and_decreasing_counts_survive_the_delta_coding() {
        let counts = vec![100_000, 3, 7, 1, 250_000, 2, 17];
        assert_eq!(string_to_counts(&counts_to_string(&counts)).unwrap(), counts);
    }

    #[test]
    fn bad_strings_are_refused_with_the_offset() {
        assert!(string_to_counts("ab\u{7f}").unwrap_err().contains("offset 2"));
        assert!(string_to_counts("0o").unwrap_err().contains("ends inside a count"));
        assert!(decode_counts(&[3, 2], 2, 2).unwrap_err().contains("covers 5 pixels"));
    }
}
