//! A pinhole camera over a flat street. The road runs along +z (metres ahead); `u` is the
//! lateral offset from the camera (metres, right positive) and `h` the height above the ground.
//! Every painter maps between pixels and these street coordinates through this one type, which
//! is what keeps perspective, depth order and fog consistent.

/// Camera intrinsics and pose (height, horizon row, vanishing column).
#[derive(Debug, Clone, Copy)]
pub struct Camera {
    /// Focal length in pixels.
    pub f: f32,
    /// Column of the vanishing point of the road direction (a yaw shifts it).
    pub vx: f32,
    /// Row of the horizon.
    pub yh: f32,
    /// Camera height above the road, metres.
    pub hc: f32,
}

impl Camera {
    /// Pixel position of the street point (u, z, h).
    #[inline]
    pub fn project(&self, u: f32, z: f32, h: f32) -> [f32; 2] {
        [self.vx + self.f * u / z, self.yh + self.f * (self.hc - h) / z]
    }

    /// Pixels per metre at depth z.
    #[inline]
    pub fn scale(&self, z: f32) -> f32 {
        self.f / z
    }

    /// Street point (u, z) of the ground seen through pixel centre (x, y); None at or above the
    /// horizon.
    #[inline]
    pub fn ground(&self, x: i32, y: i32) -> Option<(f32, f32)> {
        let dy = y as f32 + 0.5 - self.yh;
        if dy <= 1e-3 {
            return None;
        }
        let z = self.f * self.hc / dy;
        Some(((x as f32 + 0.5 - self.vx) * z / self.f, z))
    }

    /// (z, h) where pixel (x, y) meets the vertical plane u = u0 (running along the road).
    #[inline]
    pub fn on_side(&self, u0: f32, x: i32, y: i32) -> (f32, f32) {
        let dx = x as f32 + 0.5 - self.vx;
        let dx = if dx.abs() < 1e-3 { 1e-3_f32.copysign(u0) } else { dx };
        let z = self.f * u0 / dx;
        (z, self.hc - (y as f32 + 0.5 - self.yh) * z / self.f)
    }

    /// (u, h) where pixel (x, y) meets the vertical plane z = z0 (facing the camera).
    #[inline]
    pub fn on_front(&self, z0: f32, x: i32, y: i32) -> (f32, f32) {
        let k = z0 / self.f;
        ((x as f32 + 0.5 - self.vx) * k, self.hc - (y as f32 + 0.5 - self.yh) * k)
    }

    /// (u, z) where pixel (x, y) meets the horizontal plane at height h0.
    #[inline]
    pub fn on_level(&self, h0: f32, x: i32, y: i32) -> (f32, f32) {
        let dy = y as f32 + 0.5 - self.yh;
        let dy = if dy.abs() < 1e-3 { 1e-3 } else { dy };
        let z = self.f * (self.hc - h0) / dy;
        ((x as f32 + 0.5 - self.vx) * z / self.f, z)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inverse_mappings_undo_projection() {
        let c = Camera { f: 500.0, vx: 260.0, yh: 110.0, hc: 1.5 };
        let p = c.project(-6.0, 20.0, 0.0);
        let (u, z) = c.ground(p[0] as i32, p[1] as i32).unwrap();
        assert!((u + 6.0).abs() < 0.5 && (z - 20.0).abs() < 1.5, "{u} {z}");
        let p = c.project(-6.0, 20.0, 4.0);
        let (z, h) = c.on_side(-6.0, p[0] as i32, p[1] as i32);
        assert!((z - 20.0).abs() < 1.0 && (h - 4.0).abs() < 0.2, "{z} {h}");
        assert!(c.ground(10, 50).is_none());
    }
}
