//! The guard's own tests: what it accepts, what it refuses, and why.

use super::*;

#[test]
fn a_state_dict_pickle_passes() {
    // {'w': _rebuild_tensor_v2(('storage', FloatStorage, '0', 'cpu', 4), 0, (2, 2), (2, 1))}
    let mut p = b"\x80\x02}q\x00X\x01\x00\x00\x00wq\x01ctorch._utils\n_rebuild_tensor_v2\nq\x02(".to_vec();
    p.extend_from_slice(b"(X\x07\x00\x00\x00storageq\x03ctorch\nFloatStorage\nq\x04X\x01\x00\x00\x000");
    p.extend_from_slice(b"X\x03\x00\x00\x00cpuK\x04tQK\x00K\x02K\x02\x86K\x02K\x01\x86\x89ccollections\n");
    p.extend_from_slice(b"OrderedDict\n)RtRs.");
    assert_eq!(check(&p), Ok(()));
}

#[test]
fn code_references_are_refused_by_name() {
    let e = check(b"\x80\x02cposix\nsystem\nX\x04\x00\x00\x00echo\x85R.").unwrap_err();
    assert!(e.contains("`posix.system`") && e.contains("nothing in it was run"), "{e}");
    let e = check(b"\x80\x04\x8c\x02os\x8c\x06system\x93.").unwrap_err();
    assert!(e.contains("SHORT_BINUNICODE"), "{e}");
}

#[test]
fn memo_clones_cannot_explode() {
    // a list, then repeatedly: memoise it, and make a list of 8 copies of it
    let mut p = b"\x80\x02]".to_vec();
    for _ in 0..12 {
        p.extend_from_slice(b"q\x00]("); // put top in memo 0, new list, mark
        p.extend(std::iter::repeat_n(&b"h\x00"[..], 8).flatten());
        p.extend_from_slice(b"e");
    }
    p.push(b'.');
    let e = check(&p).unwrap_err();
    assert!(e.contains("objects"), "{e}");
}

#[test]
fn deep_nesting_and_lies_are_refused() {
    let mut p = b"\x80\x02N".to_vec();
    p.extend(std::iter::repeat_n(0x85u8, 1000));
    p.push(b'.');
    assert!(check(&p).unwrap_err().contains("deep"));
    assert!(check(b"\x80\x02X\xff\xff\xff\xff").unwrap_err().contains("truncated"));
    assert!(check(b"\x80\x02N").unwrap_err().contains("STOP"));
    assert!(check(b"\x80\x02t.").unwrap_err().contains("MARK"));
    assert!(check(b"\x80\x02h\x07.").unwrap_err().contains("memo 7"));
}
