//! A 3D image on a regular grid with its physical geometry, in the LPS
//! convention ITK and SimpleITK use: `position = origin + direction ·
//! (index ⊙ spacing)`. Voxels are stored x fastest, then y, then z.

/// Voxel data plus geometry.
#[derive(Debug, Clone, PartialEq)]
pub struct Volume {
    /// Voxels along x, y, z.
    pub size: [usize; 3],
    /// Millimetres between voxel centres along each axis.
    pub spacing: [f64; 3],
    /// LPS position (mm) of the centre of voxel (0, 0, 0).
    pub origin: [f64; 3],
    /// Direction cosines, row-major 3×3 (columns are the axes' directions).
    pub direction: [f64; 9],
    pub data: Vec<f32>,
}

/// The identity direction matrix.
pub const IDENTITY: [f64; 9] = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0];

impl Volume {
    /// A volume of zeros.
    pub fn zeros(size: [usize; 3], spacing: [f64; 3], origin: [f64; 3]) -> Volume {
        Volume { size, spacing, origin, direction: IDENTITY, data: vec![0.0; size[0] * size[1] * size[2]] }
    }

    pub fn len(&self) -> usize {
        self.data.len()
    }

    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Linear index of voxel (i, j, k).
    pub fn index(&self, i: usize, j: usize, k: usize) -> usize {
        i + self.size[0] * (j + self.size[1] * k)
    }

    /// LPS position of voxel (i, j, k).
    pub fn position(&self, i: usize, j: usize, k: usize) -> [f64; 3] {
        let v = [i as f64 * self.spacing[0], j as f64 * self.spacing[1], k as f64 * self.spacing[2]];
        let d = &self.direction;
        [
            self.origin[0] + d[0] * v[0] + d[1] * v[1] + d[2] * v[2],
            self.origin[1] + d[3] * v[0] + d[4] * v[1] + d[5] * v[2],
            self.origin[2] + d[6] * v[0] + d[7] * v[1] + d[8] * v[2],
        ]
    }

    /// Inclusive voxel bounding box [lo, hi] of the voxels > 0.5 (a mask's
    /// foreground); `None` if there are none.
    pub fn bounding_box(&self) -> Option<([usize; 3], [usize; 3])> {
        let mut lo = [usize::MAX; 3];
        let mut hi = [0usize; 3];
        let mut any = false;
        for k in 0..self.size[2] {
            for j in 0..self.size[1] {
                for i in 0..self.size[0] {
                    if self.data[self.index(i, j, k)] > 0.5 {
                        any = true;
                        for (a, v) in [i, j, k].into_iter().enumerate() {
                            lo[a] = lo[a].min(v);
                            hi[a] = hi[a].max(v);
                        }
                    }
                }
            }
        }
        any.then_some((lo, hi))
    }

    /// Volume of one voxel in millilitres.
    pub fn voxel_ml(&self) -> f64 {
        self.spacing.iter().product::<f64>() / 1000.0
    }
}
