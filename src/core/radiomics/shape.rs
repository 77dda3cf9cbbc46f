//! 3D shape features from a marching-cubes mesh of the ROI, as PyRadiomics
//! builds it: vertices at edge midpoints (the mask is binary), cubes with
//! the eighth corner inside handled as their complement with the volume
//! sign flipped, volume by the divergence theorem (signed tetrahedra to the
//! origin), diameters over the mesh vertices, PCA axes from the voxel
//! centres (covariance ÷ N; ÷ (N − 1) in IBSI mode).
//!
//! The case table is Lorensen and Cline's as published by Paul Bourke
//! ("Polygonising a scalar field", 1994), in the corner order
//! (z, y, x): 0 (0,0,0), 1 (0,0,1), 2 (0,1,1), 3 (0,1,0), 4 (1,0,0),
//! 5 (1,0,1), 6 (1,1,1), 7 (1,1,0); only its first 128 entries are needed.

use crate::core::learn::matrix::{Matrix, symmetric_eigen};

/// Corner offsets (z, y, x).
const CORNERS: [[usize; 3]; 8] =
    [[0, 0, 0], [0, 0, 1], [0, 1, 1], [0, 1, 0], [1, 0, 0], [1, 0, 1], [1, 1, 1], [1, 1, 0]];

/// The corners each of the 12 edges joins.
const EDGES: [[usize; 2]; 12] =
    [[0, 1], [1, 2], [2, 3], [3, 0], [4, 5], [5, 6], [6, 7], [7, 4], [0, 4], [1, 5], [2, 6], [3, 7]];

/// Triangles (edge triples) of cube configurations 0–127, one row per
/// configuration, rows separated by `;`.
const TRIANGLES: &str = "\
;0 8 3;1 9 0;1 8 3 1 9 8;1 2 10;0 8 3 1 2 10;9 2 10 0 2 9;2 8 3 2 10 8 10 9 8;\
11 2 3;11 2 0 0 8 11;1 9 0 11 2 3;11 2 1 1 9 11 9 8 11;3 10 1 11 10 3;10 1 0 0 8 10 8 11 10;\
9 0 3 3 11 9 11 10 9;9 8 10 11 10 8;4 7 8;0 4 3 4 7 3;1 9 0 4 7 8;1 9 4 1 4 7 1 7 3;\
1 2 10 4 7 8;3 4 7 3 0 4 1 2 10;9 2 10 9 0 2 4 7 8;2 10 9 2 9 7 2 7 3 4 7 9;4 7 8 11 2 3;\
11 4 7 11 2 4 2 0 4;1 9 0 4 7 8 11 2 3;4 7 11 9 4 11 11 2 9 1 9 2;3 10 1 11 10 3 4 7 8;\
11 10 1 1 4 11 1 0 4 4 7 11;4 7 8 9 0 3 3 11 9 11 10 9;4 7 11 4 11 9 9 11 10;9 5 4;\
9 5 4 0 8 3;0 5 4 0 1 5;8 5 4 8 3 5 3 1 5;1 2 10 9 5 4;0 8 3 1 2 10 9 5 4;2 10 5 5 4 2 2 4 0;\
2 10 5 3 2 5 3 5 4 8 3 4;9 5 4 11 2 3;11 2 0 0 8 11 9 5 4;0 5 4 0 1 5 11 2 3;\
2 1 5 2 5 8 11 2 8 5 4 8;3 10 1 11 10 3 9 5 4;5 4 9 10 1 0 0 8 10 8 11 10;\
5 4 0 5 0 11 10 5 11 11 0 3;5 4 8 10 5 8 11 10 8;7 8 9 5 7 9;3 0 9 5 3 9 3 5 7;\
7 8 0 0 1 7 7 1 5;1 5 7 1 7 3;7 8 9 5 7 9 1 2 10;1 2 10 3 0 9 3 9 5 3 5 7;\
0 2 8 8 2 5 8 5 7 2 10 5;2 10 5 2 5 3 3 5 7;5 7 9 7 8 9 11 2 3;5 7 9 9 7 2 2 0 9 11 2 7;\
11 2 3 0 1 8 1 7 8 1 5 7;2 1 11 1 7 11 1 5 7;7 8 9 5 7 9 3 10 1 11 10 3;\
5 7 0 5 0 9 7 11 0 10 1 0 11 10 0;11 10 0 0 3 11 10 5 0 0 7 8 5 7 0;11 10 5 5 7 11;6 5 10;\
0 8 3 6 5 10;1 9 0 6 5 10;1 8 3 1 9 8 6 5 10;1 6 5 1 2 6;1 6 5 1 2 6 0 8 3;9 6 5 9 0 6 0 2 6;\
5 9 8 5 8 2 5 2 6 8 3 2;11 2 3 6 5 10;11 2 0 0 8 11 6 5 10;1 9 0 11 2 3 6 5 10;\
11 2 1 1 9 11 9 8 11 6 5 10;6 3 11 6 5 3 5 1 3;0 8 11 0 11 5 0 5 1 5 11 6;\
6 3 11 0 3 6 0 6 5 0 5 9;6 5 9 6 9 11 11 9 8;4 7 8 6 5 10;0 4 3 4 7 3 6 5 10;\
1 9 0 4 7 8 6 5 10;1 9 4 1 4 7 1 7 3 6 5 10;4 7 8 1 6 5 1 2 6;0 4 3 4 7 3 1 6 5 1 2 6;\
4 7 8 9 6 5 9 0 6 0 2 6;7 3 9 4 7 9 3 2 9 5 9 6 2 6 9;11 2 3 4 7 8 6 5 10;\
11 4 7 11 2 4 2 0 4 6 5 10;1 9 0 11 2 3 4 7 8 6 5 10;4 7 11 9 4 11 11 2 9 1 9 2 6 5 10;\
4 7 8 6 3 11 6 5 3 5 1 3;5 1 11 5 11 6 1 0 11 4 7 11 0 4 11;4 7 8 6 3 11 0 3 6 0 6 5 0 5 9;\
6 5 9 6 9 11 4 7 9 7 11 9;10 4 9 6 4 10;10 4 9 6 4 10 0 8 3;0 1 10 10 6 0 6 4 0;\
1 8 3 1 6 8 8 6 4 6 1 10;1 4 9 1 2 4 2 6 4;1 4 9 1 2 4 2 6 4 0 8 3;0 2 4 4 2 6;\
8 3 2 8 2 4 4 2 6;11 2 3 10 4 9 6 4 10;11 2 0 0 8 11 10 4 9 6 4 10;11 2 3 0 1 10 10 6 0 6 4 0;\
6 4 1 6 1 10 1 4 8 11 2 1 1 8 11;9 6 4 3 6 9 1 3 9 11 6 3;1 8 11 0 8 1 11 6 1 1 4 9 6 4 1;\
6 3 11 0 3 6 6 4 0;8 6 4 6 8 11;6 7 10 7 8 10 8 9 10;6 7 10 0 10 7 0 9 10 0 7 3;\
6 7 10 1 10 7 1 7 8 0 1 8;6 7 10 1 10 7 1 7 3;1 2 6 1 6 8 1 8 9 6 7 8;\
2 6 9 1 2 9 6 7 9 3 0 9 7 3 9;0 7 8 7 0 6 6 0 2;2 7 3 2 6 7;11 2 3 6 7 10 7 8 10 8 9 10;\
2 0 7 11 2 7 0 9 7 6 7 10 9 10 7;6 7 10 1 10 7 1 7 8 0 1 8 11 2 3;11 2 1 1 7 11 10 6 1 1 6 7;\
8 9 6 6 7 8 1 6 9 11 6 3 1 3 6;0 9 1 6 7 11;0 7 8 7 0 6 0 3 11 11 6 0;6 7 11";

/// The triangle table parsed: for each configuration, its edge triples.
fn table() -> Vec<Vec<[usize; 3]>> {
    TRIANGLES
        .split(';')
        .map(|row| {
            let e: Vec<usize> = row.split_whitespace().filter_map(|t| t.parse().ok()).collect();
            e.chunks_exact(3).map(|c| [c[0], c[1], c[2]]).collect()
        })
        .collect()
}

/// Midpoint of each edge, (z, y, x) in voxel units.
fn edge_points() -> [[f64; 3]; 12] {
    EDGES.map(|[a, b]| [0, 1, 2].map(|d| (CORNERS[a][d] + CORNERS[b][d]) as f64 / 2.0))
}

/// What the mesh gives.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Mesh {
    pub surface_area: f64,
    pub volume: f64,
    /// Maximum diameters: in a slice (same z), a column plane (same y), a
    /// row plane (same x), and in 3D.
    pub diameters: [f64; 4],
}

/// The mesh of a binary mask (x fastest, `size` [x, y, z], spacing [x, y, z]).
pub fn mesh(mask: &[bool], size: [usize; 3], spacing: [f64; 3]) -> Mesh {
    let table = table();
    let pts = edge_points();
    // Work in (z, y, x) with one voxel of padding on every side.
    let (nz, ny, nx) = (size[2] + 2, size[1] + 2, size[0] + 2);
    let sp = [spacing[2], spacing[1], spacing[0]];
    let inside = |z: usize, y: usize, x: usize| -> bool {
        if z == 0 || y == 0 || x == 0 || z > size[2] || y > size[1] || x > size[0] {
            return false;
        }
        mask[(x - 1) + size[0] * ((y - 1) + size[1] * (z - 1))]
    };
    let (mut area, mut volume) = (0.0, 0.0);
    let mut vertices: Vec<[f64; 3]> = Vec::new();
    for z in 0..nz - 1 {
        for y in 0..ny - 1 {
            for x in 0..nx - 1 {
                let mut idx = 0usize;
                for (c, off) in CORNERS.iter().enumerate() {
                    if inside(z + off[0], y + off[1], x + off[2]) {
                        idx |= 1 << c;
                    }
                }
                let sign = if idx & 0x80 != 0 {
                    idx ^= 0xff;
                    -1.0
                } else {
                    1.0
                };
                // Vertices on the edges at corner 7 (edges 6, 7, 11), each stored once.
                for (corner, edge) in [(6, 6), (4, 7), (3, 11)] {
                    if idx & (1 << corner) != 0 {
                        vertices.push([0, 1, 2].map(|d| ([z, y, x][d] as f64 + pts[edge][d]) * sp[d]));
                    }
                }
                if idx == 0 {
                    continue;
                }
                for tri in &table[idx] {
                    let p = tri.map(|e| [0, 1, 2].map(|d| ([z, y, x][d] as f64 + pts[e][d]) * sp[d]));
                    let [a, b, c] = p;
                    let ab = cross(a, b);
                    volume += sign * dot(ab, c);
                    let u = [0, 1, 2].map(|d| a[d] - c[d]);
                    let v = [0, 1, 2].map(|d| b[d] - c[d]);
                    let n = cross(u, v);
                    area += 0.5 * dot(n, n).sqrt();
                }
            }
        }
    }
    Mesh { surface_area: area, volume: volume / 6.0, diameters: diameters(&vertices) }
}

fn cross(a: [f64; 3], b: [f64; 3]) -> [f64; 3] {
    [a[1] * b[2] - b[1] * a[2], a[2] * b[0] - b[2] * a[0], a[0] * b[1] - b[0] * a[1]]
}

fn dot(a: [f64; 3], b: [f64; 3]) -> f64 {
    a[0] * b[0] + a[1] * b[1] + a[2] * b[2]
}

/// Largest distances between vertex pairs: same z, same y, same x, any —
/// exactly PyRadiomics' all-pairs maxima, found faster: the 2D maxima only
/// compare vertices that share the coordinate, and the 3D search visits
/// vertices from the centroid outwards-in and stops once no remaining pair
/// can beat the best (|a − b| ≤ |a − c| + |b − c|).
fn diameters(v: &[[f64; 3]]) -> [f64; 4] {
    let dist = |a: &[f64; 3], b: &[f64; 3]| (a[0] - b[0]).powi(2) + (a[1] - b[1]).powi(2) + (a[2] - b[2]).powi(2);
    let mut d = [0.0f64; 4];
    for axis in 0..3 {
        let mut groups: std::collections::HashMap<u64, Vec<usize>> = std::collections::HashMap::new();
        for (i, p) in v.iter().enumerate() {
            groups.entry(p[axis].to_bits()).or_default().push(i);
        }
        for g in groups.values() {
            for (n, &i) in g.iter().enumerate() {
                for &j in &g[..n] {
                    d[axis] = d[axis].max(dist(&v[i], &v[j]));
                }
            }
        }
    }
    if !v.is_empty() {
        let n = v.len() as f64;
        let c = [0, 1, 2].map(|k| v.iter().map(|p| p[k]).sum::<f64>() / n);
        let mut order: Vec<(f64, usize)> = v.iter().enumerate().map(|(i, p)| (dist(p, &c).sqrt(), i)).collect();
        order.sort_by(|a, b| b.0.total_cmp(&a.0));
        let mut best = 0.0f64;
        'outer: for (x, &(ra, a)) in order.iter().enumerate() {
            for &(rb, b) in &order[x + 1..] {
                let bound = (ra + rb) * (1.0 + 1e-9);
                if bound * bound < best {
                    if rb == order[x + 1].0 {
                        break 'outer;
                    }
                    break;
                }
                best = best.max(dist(&v[a], &v[b]));
            }
        }
        d[3] = best;
    }
    d.map(f64::sqrt)
}

/// The shape features (PyRadiomics names) of a mask.
pub fn features(mask: &[bool], size: [usize; 3], spacing: [f64; 3], ibsi: bool) -> Vec<(&'static str, f64)> {
    let m = mesh(mask, size, spacing);
    let volume = m.volume.abs();
    let area = m.surface_area;
    let n = mask.iter().filter(|&&b| b).count();
    let voxel_volume = n as f64 * spacing.iter().product::<f64>();
    // PCA of the voxel centres (physical coordinates).
    let mut pts = Vec::with_capacity(n);
    for k in 0..size[2] {
        for j in 0..size[1] {
            for i in 0..size[0] {
                if mask[i + size[0] * (j + size[1] * k)] {
                    pts.push([i as f64 * spacing[0], j as f64 * spacing[1], k as f64 * spacing[2]]);
                }
            }
        }
    }
    let mean = [0, 1, 2].map(|d| pts.iter().map(|p| p[d]).sum::<f64>() / n as f64);
    let mut cov = Matrix::zeros(3, 3);
    let denom = if ibsi { (n as f64 - 1.0).max(1.0) } else { n as f64 };
    for r in 0..3 {
        for c in 0..3 {
            let s: f64 = pts.iter().map(|p| (p[r] - mean[r]) * (p[c] - mean[c])).sum();
            cov.set(r, c, s / denom);
        }
    }
    let (mut eig, _) = symmetric_eigen(&cov);
    eig.sort_by(f64::total_cmp);
    // Round-off can leave a tiny negative eigenvalue for flat ROIs.
    let eig: Vec<f64> = eig.iter().map(|&e| if e < 0.0 && e > -1e-10 { 0.0 } else { e }).collect();
    let (least, minor, major) = (eig[0], eig[1], eig[2]);
    let axis = |l: f64| if l < 0.0 { f64::NAN } else { 4.0 * l.sqrt() };
    let ratio = |a: f64| {
        if major == 0.0 {
            0.0
        } else if a < 0.0 {
            f64::NAN
        } else {
            (a / major).sqrt()
        }
    };
    let sphere = (36.0 * std::f64::consts::PI * volume * volume).cbrt();
    vec![
        ("MeshVolume", volume),
        ("VoxelVolume", voxel_volume),
        ("SurfaceArea", area),
        ("SurfaceVolumeRatio", area / volume),
        ("Sphericity", sphere / area),
        ("Compactness1", volume / (std::f64::consts::PI * area.powi(3)).sqrt()),
        ("Compactness2", 36.0 * std::f64::consts::PI * volume * volume / area.powi(3)),
        ("SphericalDisproportion", area / sphere),
        ("Maximum3DDiameter", m.diameters[3]),
        ("Maximum2DDiameterSlice", m.diameters[0]),
        ("Maximum2DDiameterColumn", m.diameters[1]),
        ("Maximum2DDiameterRow", m.diameters[2]),
        ("MajorAxisLength", axis(major)),
        ("MinorAxisLength", axis(minor)),
        ("LeastAxisLength", axis(least)),
        ("Elongation", ratio(minor)),
        ("Flatness", ratio(least)),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_uses_exactly_the_cut_edges() {
        let t = table();
        assert_eq!(t.len(), 128);
        for (idx, tris) in t.iter().enumerate() {
            let mut used = [false; 12];
            for tri in tris {
                for &e in tri {
                    used[e] = true;
                }
            }
            for (e, [a, b]) in EDGES.iter().enumerate() {
                let cut = ((idx >> a) & 1) != ((idx >> b) & 1);
                assert_eq!(used[e], cut, "configuration {idx}, edge {e}");
            }
        }
    }

    #[test]
    fn pruned_diameters_equal_all_pairs() {
        let mut rng = crate::core::rng::Rng::new(3);
        let v: Vec<[f64; 3]> = (0..400).map(|_| [0, 1, 2].map(|_| (rng.uniform() * 20.0).round() * 0.5)).collect();
        let mut want = [0.0f64; 4];
        for i in 0..v.len() {
            for j in 0..i {
                let d: f64 = (0..3).map(|k| (v[i][k] - v[j][k]).powi(2)).sum();
                want[3] = want[3].max(d);
                for k in 0..3 {
                    if v[i][k] == v[j][k] {
                        want[k] = want[k].max(d);
                    }
                }
            }
        }
        assert_eq!(diameters(&v), want.map(f64::sqrt));
    }

    #[test]
    fn one_voxel_is_an_octahedron() {
        let m = mesh(&[true], [1, 1, 1], [1.0, 1.0, 1.0]);
        assert!((m.volume.abs() - 1.0 / 6.0).abs() < 1e-12, "{}", m.volume);
        assert!((m.surface_area - 3f64.sqrt()).abs() < 1e-12, "{}", m.surface_area);
        assert!((m.diameters[3] - 1.0).abs() < 1e-12);
    }

    #[test]
    fn a_closed_block_has_consistent_orientation() {
        // Volume of a 3 × 3 × 3 block under midpoint marching cubes: the
        // block shrunk by half a voxel with its edges and corners bevelled;
        // positive and below the voxel count, above the inner 2 × 2 × 2.
        let m = mesh(&[true; 27], [3, 3, 3], [1.0, 1.0, 1.0]);
        assert!(m.volume > 8.0 && m.volume < 27.0, "{}", m.volume);
        let m2 = mesh(&[true; 27], [3, 3, 3], [2.0, 1.0, 0.5]);
        assert!((m2.volume - m.volume).abs() < 1e-9, "volume scales with the voxel volume (1 here)");
    }
}
