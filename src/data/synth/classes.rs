//! Cityscapes train ids, named, so painters say `ROAD` rather than `0`.
//! Same order as `network::presets::cityscapes_classes`.

pub const ROAD: u8 = 0;
pub const SIDEWALK: u8 = 1;
pub const BUILDING: u8 = 2;
pub const WALL: u8 = 3;
pub const FENCE: u8 = 4;
pub const POLE: u8 = 5;
pub const TRAFFIC_LIGHT: u8 = 6;
pub const TRAFFIC_SIGN: u8 = 7;
pub const VEGETATION: u8 = 8;
pub const TERRAIN: u8 = 9;
pub const SKY: u8 = 10;
pub const PERSON: u8 = 11;
pub const RIDER: u8 = 12;
pub const CAR: u8 = 13;
pub const TRUCK: u8 = 14;
pub const BUS: u8 = 15;
pub const TRAIN: u8 = 16;
pub const MOTORCYCLE: u8 = 17;
pub const BICYCLE: u8 = 18;
/// Number of classes.
pub const COUNT: usize = 19;
