//! The random street a scene shows: camera, road, the two sides with their blocks of buildings,
//! walls, fences and hedges, and the things standing in it. Drawing reads this plan and nothing
//! else, so image and label come from the same shapes.

use serde::Serialize;

use super::camera::Camera;
use super::canvas::Rgb;
use super::look::Look;

/// The character of a street, which sets what its sides are made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Urban,
    Suburban,
    Open,
}

/// A building facade.
#[derive(Debug, Clone)]
pub struct Facade {
    pub height: f32,
    pub color: Rgb,
    pub floor_h: f32,
    pub bay_w: f32,
    pub win_w: f32,
    pub win_h: f32,
    pub glass: Rgb,
    pub shop: bool,
    pub lit: f32,
    pub seed: u32,
}

/// A barrier in front of the frontage line.
#[derive(Debug, Clone)]
pub enum Barrier {
    Wall { height: f32, color: Rgb, seed: u32 },
    Fence { height: f32, color: Rgb, spacing: f32, mesh: bool },
    Hedge { height: f32, color: Rgb, seed: u32 },
}

/// A stretch of one side of the street, from z0 to z1.
#[derive(Debug, Clone)]
pub struct Block {
    pub z0: f32,
    pub z1: f32,
    /// Distance of the facade behind the frontage line.
    pub setback: f32,
    pub building: Option<Facade>,
    pub barrier: Option<Barrier>,
}

/// One side of the street; distances are measured outward from the camera's line.
#[derive(Debug, Clone)]
pub struct Side {
    /// -1 for the left side, +1 for the right.
    pub sign: f32,
    pub curb: f32,
    pub verge: f32,
    pub walk: f32,
    pub yard: f32,
    pub paving: Rgb,
    pub grass: Rgb,
    pub blocks: Vec<Block>,
}

impl Side {
    /// Where sidewalk (and yard) end and the frontage begins.
    pub fn frontage(&self) -> f32 {
        self.curb + self.verge + self.walk + self.yard
    }
    /// The block at depth z, if any.
    pub fn block_at(&self, z: f32) -> Option<&Block> {
        self.blocks.iter().find(|b| z >= b.z0 && z < b.z1)
    }
}

/// Vehicle body types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VehicleKind {
    Car,
    Truck,
    Bus,
    Tram,
}

/// Poses of a person.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Pose {
    /// Walking across the view, facing +1 (right) or -1.
    Side(f32),
    /// Seen from the front or back.
    Front,
}

/// Colours and size of a person.
#[derive(Debug, Clone)]
pub struct PersonLook {
    pub height: f32,
    pub skin: Rgb,
    pub hair: Rgb,
    pub top: Rgb,
    pub legs: Rgb,
    pub phase: f32,
    pub bag: bool,
}

/// Something standing in the street, drawn far to near.
#[derive(Debug, Clone)]
pub enum Thing {
    Tree { trunk: f32, crown: f32, color: Rgb },
    Lamp { height: f32, arm: f32 },
    Sign { height: f32, shape: u8, size: f32 },
    Light { height: f32, arm: f32, state: u8 },
    Vehicle { kind: VehicleKind, width: f32, length: f32, height: f32, color: Rgb, oncoming: bool },
    Person { look: PersonLook, pose: Pose },
    Cycle { motor: bool, rider: Option<PersonLook>, side: Option<f32>, color: Rgb },
}

/// A thing at street position (u, z) with its own texture seed.
#[derive(Debug, Clone)]
pub struct Placed {
    pub u: f32,
    pub z: f32,
    pub seed: u32,
    pub thing: Thing,
}

/// Everything a scene contains.
#[derive(Debug, Clone)]
pub struct Layout {
    pub kind: Kind,
    pub cam: Camera,
    pub look: Look,
    pub sides: [Side; 2],
    pub zend: f32,
    /// A building across the far end of the street, else an open skyline.
    pub far_building: Option<Facade>,
    /// The depth range of a cross street.
    pub cross: Option<(f32, f32)>,
    pub crosswalk: Option<f32>,
    pub asphalt: Rgb,
    pub lane_w: f32,
    pub things: Vec<Placed>,
    pub seed: u32,
}

mod generate;
