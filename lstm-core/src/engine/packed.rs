//! Products with a matrix packed once and used many times: the recurrent kernel `U` in `h·U` at
//! every forward step, `Uᵀ` in `dz·Uᵀ` at every backward step, and each pass's `d_in` in the
//! weight gradients `xᵀ·d_in` and `h_prevᵀ·d_in`.
//!
//! A general matrix product (`general_mat_mul`) copies its right operand into cache-friendly
//! panels on every call: 60 times per training step at T = 30, 4 MB each at 512 units. Here the
//! panels are made once per pass ([`PackedMatrix::pack`]) and every step only runs the
//! arithmetic ([`PackedMatrix::multiply`]).
//!
//! Rounding is the same as `general_mat_mul`'s (matrixmultiply's f32 kernels): each output sums
//! blocks of [`KC`] products as one fused multiply-add chain from zero, then adds the block to
//! the output. So the path a product takes changes no bit of the result, and a batch split
//! across threads gives the same numbers as one thread.
//!
//! Kernels are chosen at run time: AVX-512, AVX2 with FMA, or portable Rust (`f32::mul_add`,
//! same rounding). `LSTM_CORE_SIMD=avx2` or `=portable` picks a lower one (to test it, or to
//! compare speeds on one machine).

use std::sync::OnceLock;

use ndarray::{ArrayView1, ArrayView2, ArrayViewMut2};

use crate::engine::helper;

/// Columns per panel: one AVX-512 register, two AVX2 registers.
const NR: usize = 16;
/// Products summed in one fused chain before they are added to the output: matrixmultiply's f32
/// `kc`, so that both paths round alike.
pub const KC: usize = 256;

/// The instruction sets a product can run on, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Simd {
    /// 16 lanes, 12 rows per tile.
    Avx512,
    /// 8 lanes (two registers per row of the tile), 6 rows per tile.
    Avx2Fma,
    /// Plain Rust: `f32::mul_add`, 4 rows per tile.
    Portable,
}

impl Simd {
    /// The best this machine has, or the one `LSTM_CORE_SIMD` names if the machine has it.
    pub fn detected() -> Simd {
        static CHOICE: OnceLock<Simd> = OnceLock::new();
        *CHOICE.get_or_init(|| {
            let available = Simd::available();
            let wanted = std::env::var("LSTM_CORE_SIMD").ok();
            let named = wanted.as_deref().and_then(|name| match name {
                "avx512" => Some(Simd::Avx512),
                "avx2" => Some(Simd::Avx2Fma),
                "portable" => Some(Simd::Portable),
                _ => None,
            });
            named
                .filter(|simd| available.contains(simd))
                .unwrap_or(available[0])
        })
    }

    /// Every kind this machine can run, best first (tests run each). Detected once.
    pub fn available() -> &'static [Simd] {
        static AVAILABLE: OnceLock<Vec<Simd>> = OnceLock::new();
        AVAILABLE.get_or_init(|| {
            #[cfg(target_arch = "x86_64")]
            let detected = [
                (is_x86_feature_detected!("avx512f"), Simd::Avx512),
                (
                    is_x86_feature_detected!("avx2") && is_x86_feature_detected!("fma"),
                    Simd::Avx2Fma,
                ),
            ];
            #[cfg(not(target_arch = "x86_64"))]
            let detected: [(bool, Simd); 0] = [];
            let fast = detected
                .into_iter()
                .filter_map(|(has, simd)| has.then_some(simd));
            fast.chain([Simd::Portable]).collect()
        })
    }

    /// Rows of the output one tile computes.
    fn rows_per_tile(self) -> usize {
        match self {
            Simd::Avx512 => 12,
            Simd::Avx2Fma => 6,
            Simd::Portable => 4,
        }
    }
}

/// Sixteen floats on one 64-byte cache line: one row of a panel.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Lane([f32; NR]);

/// A `[k, n]` matrix as panels of 16 columns: panel `p` holds rows `0..k` of columns
/// `16p..16p+16`, each row on one 64-byte cache line, zero past column `n`.
#[derive(Debug, Clone, Default)]
pub struct PackedMatrix {
    depth: usize,
    cols: usize,
    lanes: Vec<Lane>,
}

impl PackedMatrix {
    /// Packs `b: [k, n]` (any strides: `u.t()` packs a transpose), reusing this buffer.
    pub fn pack(&mut self, b: ArrayView2<f32>) {
        self.pack_summing(b, None);
    }

    /// [`PackedMatrix::pack`], also writing each column's sum into `sums` (`[n]`): `b`'s rows
    /// added in order to zeros, as [`helper::sum_rows`] does (the same bits), in the same pass
    /// (a bias gradient from the `d_in` a weight gradient packs).
    ///
    /// # Panics
    /// If `sums` does not hold one value per column.
    pub fn pack_summing_columns(&mut self, b: ArrayView2<f32>, sums: &mut [f32]) {
        assert_eq!(sums.len(), b.ncols(), "one sum per column");
        self.pack_summing(b, Some(sums));
    }

    fn pack_summing(&mut self, b: ArrayView2<f32>, sums: Option<&mut [f32]>) {
        let (depth, cols) = b.dim();
        let panels = cols.div_ceil(NR);
        // Same shape as last time: every value is overwritten below and the padding is still zero.
        if (self.depth, self.cols) != (depth, cols) || self.lanes.len() != panels * depth {
            self.depth = depth;
            self.cols = cols;
            self.lanes.clear();
            self.lanes.resize(panels * depth, Lane::default());
        }
        // Panel by panel, lane by lane (sequential writes), reading b along its contiguous axis:
        // rows for U, columns (U's rows) for Uᵀ, with a plain index for any other layout.
        let rows: Option<Vec<&[f32]>> = (0..depth).map(|k| b.row(k).to_slice()).collect();
        let columns: Option<Vec<&[f32]>> = (0..cols).map(|j| b.column(j).to_slice()).collect();
        let fill = |first_panel: usize, lanes: &mut [Lane], mut sums: Option<&mut [f32]>| {
            for (p, panel) in lanes.chunks_exact_mut(depth.max(1)).enumerate() {
                let first = (first_panel + p) * NR;
                let width = NR.min(cols - first);
                let sums = sums
                    .as_deref_mut()
                    .map(|sums| &mut sums[p * NR..p * NR + width]);
                fill_panel(panel, first, width, &rows, &columns, b, sums);
            }
        };
        if depth == 0 {
            // No panels to fill; the sums of no rows are zeros.
            if let Some(sums) = sums {
                sums.fill(0.0);
            }
            return;
        }
        // A large matrix (U at 512 units: 4 MB) packs on both cores, half the panels each.
        if depth * cols >= PACK_IN_HALVES_FROM && panels >= 2 {
            let (left, right) = self.lanes.split_at_mut(panels / 2 * depth);
            let (sums_left, sums_right) = match sums {
                Some(sums) => {
                    let (left, right) = sums.split_at_mut(panels / 2 * NR);
                    (Some(left), Some(right))
                }
                None => (None, None),
            };
            helper::join(
                || fill(0, left, sums_left),
                || fill(panels / 2, right, sums_right),
            );
        } else {
            fill(0, &mut self.lanes, sums);
        }
    }

    /// A packed copy of `b`.
    pub fn new(b: ArrayView2<f32>) -> Self {
        let mut packed = PackedMatrix::default();
        packed.pack(b);
        packed
    }

    /// `[k, n]` of the packed matrix.
    pub fn dim(&self) -> (usize, usize) {
        (self.depth, self.cols)
    }

    /// `c = c + a·B` if `accumulate`, else `c = a·B` (`a: [m, k]`, `c: [m, n]`), on the
    /// machine's best kernel, on one thread.
    ///
    /// # Panics
    /// If the shapes disagree or a row of `c` is not contiguous (callers in this crate pass
    /// blocks of standard-layout buffers).
    pub fn multiply(&self, a: ArrayView2<f32>, c: ArrayViewMut2<f32>, accumulate: bool) {
        self.multiply_with(Simd::detected(), a, c, accumulate);
    }

    /// [`PackedMatrix::multiply`] on the given kernel (which the machine must have).
    pub fn multiply_with(
        &self,
        simd: Simd,
        a: ArrayView2<f32>,
        c: ArrayViewMut2<f32>,
        accumulate: bool,
    ) {
        let start = if accumulate {
            Start::Output
        } else {
            Start::Zero
        };
        self.checked_run(simd, a, c, start, None);
    }

    /// `c = row + a·B`, `row` (`[n]`) added to every row of the product, in one pass over `c`:
    /// the bias and the input projection of every step at once. Rounds as setting `c` to
    /// `row` and then [`PackedMatrix::multiply`] with `accumulate`.
    ///
    /// # Panics
    /// As [`PackedMatrix::multiply`], or if `row` is not contiguous or not `[n]`.
    pub fn multiply_onto_row(
        &self,
        a: ArrayView2<f32>,
        row: ArrayView1<f32>,
        c: ArrayViewMut2<f32>,
    ) {
        assert_eq!(row.len(), self.cols, "the row added to the product");
        let row = row.to_slice().expect("a contiguous row");
        self.checked_run(Simd::detected(), a, c, Start::Row(row.as_ptr()), None);
    }

    /// `c = (row + x·W) + a·B`, with `W` (`input`, `[f, n]`) and `x: [m, f]`: a recurrent
    /// step's input projection and its recurrent product. The same bits as
    /// [`PackedMatrix::multiply_onto_row`] of `W` into `c` and then [`PackedMatrix::multiply`]
    /// with `accumulate`, but for a shallow `W` (at most [`FUSED_INPUT_DEPTH`] rows, the usual
    /// one to a few features) in one pass: each tile adds `row + x·W` to its sums as it stores
    /// them, instead of a first pass over `c` in tiles of their own.
    ///
    /// # Panics
    /// As [`PackedMatrix::multiply_onto_row`] and [`PackedMatrix::multiply`].
    pub fn multiply_after_input(
        &self,
        a: ArrayView2<f32>,
        input: &PackedMatrix,
        x: ArrayView2<f32>,
        row: ArrayView1<f32>,
        c: ArrayViewMut2<f32>,
    ) {
        self.multiply_after_input_with(Simd::detected(), a, input, x, row, c);
    }

    /// [`PackedMatrix::multiply_after_input`] on the given kernel (which the machine must have).
    pub fn multiply_after_input_with(
        &self,
        simd: Simd,
        a: ArrayView2<f32>,
        input: &PackedMatrix,
        x: ArrayView2<f32>,
        row: ArrayView1<f32>,
        mut c: ArrayViewMut2<f32>,
    ) {
        assert_eq!(input.cols, self.cols, "columns of the two products");
        assert_eq!(x.nrows(), a.nrows(), "rows of the two products");
        if input.depth > FUSED_INPUT_DEPTH || self.depth == 0 {
            assert_eq!(row.len(), self.cols, "the row added to the product");
            let row = row.to_slice().expect("a contiguous row");
            let first = Start::Row(row.as_ptr());
            input.checked_run(simd, x, c.view_mut(), first, None);
            self.checked_run(simd, a, c, Start::Output, None);
            return;
        }
        assert_eq!(
            x.ncols(),
            input.depth,
            "inner dimensions of the input product"
        );
        assert_eq!(row.len(), self.cols, "the row added to the product");
        let row = row.to_slice().expect("a contiguous row");
        let first = Start::Row(row.as_ptr());
        self.checked_run(simd, a, c, first, Some((input, x)));
    }

    fn checked_run(
        &self,
        simd: Simd,
        a: ArrayView2<f32>,
        c: ArrayViewMut2<f32>,
        start: Start,
        input: Option<(&PackedMatrix, ArrayView2<f32>)>,
    ) {
        let m = a.nrows();
        assert_eq!(a.ncols(), self.depth, "inner dimensions of the product");
        assert_eq!(c.dim(), (m, self.cols), "output of the product");
        assert!(
            Simd::available().contains(&simd),
            "{simd:?} is not available"
        );
        self.run(simd, a, c, start, input);
    }
}

/// The deepest input product [`PackedMatrix::multiply_after_input`] adds in its tiles'
/// epilogue: each output row's sum there is one chain of this many multiply-adds.
pub const FUSED_INPUT_DEPTH: usize = 8;

impl PackedMatrix {
    /// The product, shapes checked. The left operand may have any strides.
    /// With `input` (`W` packed, `x`), each tile's first depth block adds `x·W` to `start`'s row
    /// before its own sums (see [`PackedMatrix::multiply_after_input`]).
    fn run(
        &self,
        simd: Simd,
        a: ArrayView2<f32>,
        mut c: ArrayViewMut2<f32>,
        start: Start,
        input: Option<(&PackedMatrix, ArrayView2<f32>)>,
    ) {
        let (m, k) = a.dim();
        let n = c.ncols();
        if m == 0 || n == 0 {
            return;
        }
        if k == 0 {
            match start {
                Start::Output => {}
                Start::Zero => c.fill(0.0),
                Start::Row(row) => {
                    // SAFETY: the row has n values (checked by the caller).
                    let row = unsafe { std::slice::from_raw_parts(row, n) };
                    c.rows_mut()
                        .into_iter()
                        .for_each(|mut out| out.assign(&ArrayView1::from(row)));
                }
            }
            return;
        }
        // A dimension of length 1 is contiguous whatever its stride says.
        let stride = |len: usize, stride: isize| if len == 1 { 0 } else { stride };
        let (c_row, c_col) = (stride(m, c.strides()[0]), stride(n, c.strides()[1]));
        assert!(
            c_col == 0 || c_col == 1,
            "rows of the product's output must be contiguous"
        );
        let (a_row, a_step) = (stride(m, a.strides()[0]), stride(k, a.strides()[1]));
        // As few tiles as the kernel allows, of equal height within one row: 16 rows run as
        // 8 + 8, not 12 + 4, and 32 on six-row tiles as 5, 5, 6, 5, 5, 6, not 6, 6, 6, 6, 6, 2 (a
        // two-row tile holds too few sums to hide the multiply-add's latency: it took nearly
        // as long as a full one).
        let tiles = m.div_ceil(simd.rows_per_tile());
        let tile_start = |tile: usize| (tile as u64 * m as u64 / tiles as u64) as usize;
        // A tile's first row and its number of rows.
        let tile_span = |tile: usize| (tile_start(tile), tile_start(tile + 1) - tile_start(tile));
        let tile_rows = m.div_ceil(tiles);
        let a_ptr = a.as_ptr();
        let c_ptr = c.as_mut_ptr();
        let input = input.map(|(w, x)| {
            debug_assert!(matches!(start, Start::Row(_)) && w.depth <= FUSED_INPUT_DEPTH);
            let (f, x_row) = (w.depth, x.strides()[0]);
            let x_step = stride(f, x.strides()[1]);
            (w, x.as_ptr(), stride(m, x_row), x_step)
        });
        let panels = n.div_ceil(NR);
        // AVX-512 runs two panels per tile: two lanes loaded per row of `a` broadcast, so the
        // loads keep up with the multiply-adds.
        let span = if simd == Simd::Avx512 { 2 } else { 1 };
        // Rows in blocks of a few tiles, whose part of `a` stays in cache while every panel
        // passes; for each panel, depth blocks outside the tiles, so the panel's block stays in
        // L1 from tile to tile. Each output still adds its depth blocks in order: the same bits.
        // `a` read across its rows (a transpose: `hᵀ` in a weight gradient `hᵀ·dz`) would make
        // each tile step to a new cache line at every depth step, for every panel. Each row
        // block's tiles are first copied into runs of their own, depth by depth, read in order.
        let pack_left = a_step != 1 && k > 1 && m > 1 && panels > span;
        LEFT_TILES.with_borrow_mut(|left_tiles| {
            for first_tile in (0..tiles).step_by(TILES_PER_ROW_BLOCK) {
                let block_tiles = first_tile..tiles.min(first_tile + TILES_PER_ROW_BLOCK);
                if pack_left {
                    let needed = block_tiles.len() * tile_rows * k;
                    if left_tiles.len() < needed {
                        left_tiles.resize(needed, 0.0);
                    }
                    for (j, tile) in block_tiles.clone().enumerate() {
                        let (first_row, rows) = tile_span(tile);
                        let run = &mut left_tiles[j * tile_rows * k..(j + 1) * tile_rows * k];
                        for (depth, values) in run.chunks_exact_mut(tile_rows).enumerate() {
                            // SAFETY: rows first_row..first_row + rows (< m) of column depth (< k).
                            let column = unsafe {
                                a_ptr.offset(first_row as isize * a_row + depth as isize * a_step)
                            };
                            if a_row == 1 {
                                // SAFETY: as above, and the column's rows are contiguous.
                                let column = unsafe { std::slice::from_raw_parts(column, rows) };
                                values[..rows].copy_from_slice(column);
                            } else {
                                for (r, value) in values[..rows].iter_mut().enumerate() {
                                    // SAFETY: as above.
                                    *value = unsafe { *column.offset(r as isize * a_row) };
                                }
                            }
                        }
                    }
                }
                for p in (0..panels).step_by(span) {
                    let first_col = p * NR;
                    let cols = (span * NR).min(n - first_col);
                    // SAFETY: panel p of depth k starts at lane p·k, inside the packed buffer.
                    let panel = unsafe { self.lanes.as_ptr().add(p * k) };
                    for (block, first_k) in (0..k).step_by(KC).enumerate() {
                        for (j, tile) in block_tiles.clone().enumerate() {
                            let (first_row, rows) = tile_span(tile);
                            let (a, a_row, a_step) = if pack_left {
                                let run = &left_tiles[j * tile_rows * k + first_k * tile_rows..];
                                (run.as_ptr(), 1, tile_rows as isize)
                            } else {
                                // SAFETY: row first_row, column first_k of a.
                                let a = unsafe {
                                    a_ptr.offset(
                                        first_row as isize * a_row + first_k as isize * a_step,
                                    )
                                };
                                (a, a_row, a_step)
                            };
                            let tile = Tile {
                                depth: KC.min(k - first_k),
                                a,
                                a_row,
                                a_step,
                                b: unsafe { panel.add(first_k) },
                                panel_stride: k,
                                c: unsafe {
                                    c_ptr.offset(first_row as isize * c_row + first_col as isize)
                                },
                                c_row,
                                cols,
                                input: input.filter(|_| block == 0).map(|(w, x, x_row, x_step)| {
                                    Pre {
                                        // SAFETY: row first_row of x, panel p of W
                                        // (the same columns as B's).
                                        a: unsafe { x.offset(first_row as isize * x_row) },
                                        a_row: x_row,
                                        a_step: x_step,
                                        b: unsafe { w.lanes.as_ptr().add(p * w.depth) },
                                        panel_stride: w.depth,
                                        depth: w.depth,
                                    }
                                }),
                                start: match start {
                                    _ if block > 0 => Start::Output,
                                    // SAFETY: column first_col of a row of n values.
                                    Start::Row(row) => Start::Row(unsafe { row.add(first_col) }),
                                    first => first,
                                },
                            };
                            // SAFETY: the kernel is available (asserted) and the tile lies
                            // inside a, b and c.
                            unsafe { tile.run(simd, rows) };
                        }
                    }
                }
            }
        });
    }
}

/// Tiles of rows per row block in [`PackedMatrix::multiply`]'s loops: U is read once per block,
/// so a core's share of a prediction chunk (64 rows, 11 six-row AVX2 tiles) is one block. A
/// block's part of `a` (96 rows on AVX2, 192 on AVX-512: 192 or 384 KB at 512 units) still fits
/// a core's L2; a transposed `a` is copied one block at a time (`LEFT_TILES`, kept per thread).
/// Inference at 512 units with 8 tiles (two passes over U's 4 MB a step) ran 5–7 % slower.
const TILES_PER_ROW_BLOCK: usize = 16;

thread_local! {
    /// A row block of a transposed left operand, tile by tile (reused from call to call).
    static LEFT_TILES: std::cell::RefCell<Vec<f32>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// Values packed on both cores from this many (a quarter of a million: 1 MB).
const PACK_IN_HALVES_FROM: usize = 1 << 18;

/// Fills one panel (columns `first..first + width` of `b`), reading `b` along its contiguous
/// axis where it has one, and adds its rows in order into `sums` (zeroed first) if given.
fn fill_panel(
    panel: &mut [Lane],
    first: usize,
    width: usize,
    rows: &Option<Vec<&[f32]>>,
    columns: &Option<Vec<&[f32]>>,
    b: ArrayView2<f32>,
    mut sums: Option<&mut [f32]>,
) {
    if let Some(sums) = sums.as_deref_mut() {
        sums.fill(0.0);
    }
    // A whole panel from rows: a fixed-size copy per lane (not a call to memmove each), the
    // sums kept in registers; each column still adds its rows in order, from zero.
    if let (NR, Some(rows)) = (width, rows) {
        let mut acc = [0.0f32; NR];
        for (lane, row) in panel.iter_mut().zip(rows) {
            let values: &[f32; NR] = row[first..first + NR].try_into().expect("a whole lane");
            lane.0 = *values;
            if sums.is_some() {
                for (sum, value) in acc.iter_mut().zip(values) {
                    *sum += value;
                }
            }
        }
        if let Some(sums) = sums {
            sums.copy_from_slice(&acc);
        }
        return;
    }
    for (k, lane) in panel.iter_mut().enumerate() {
        let lane = &mut lane.0[..width];
        match (rows, columns) {
            (Some(rows), _) => lane.copy_from_slice(&rows[k][first..first + width]),
            (None, Some(columns)) => {
                for (value, column) in lane.iter_mut().zip(&columns[first..]) {
                    *value = column[k];
                }
            }
            (None, None) => {
                for (j, value) in lane.iter_mut().enumerate() {
                    *value = b[[k, first + j]];
                }
            }
        }
        if let Some(sums) = sums.as_deref_mut() {
            for (sum, &value) in sums.iter_mut().zip(lane.iter()) {
                *sum += value;
            }
        }
    }
}

/// One tile: `rows × cols` outputs (at most `rows_per_tile × NR`, or `× 2·NR` on AVX-512) over
/// `depth` products. `a[r, k]` is at `a + r·a_row + k·a_step`, row k of the panel (a 64-byte
/// aligned lane, zero past column `cols`) at `b + k`, of the next panel at `b + panel_stride + k`,
/// `c[r, j]` at `c + r·c_row + j`.
struct Tile {
    depth: usize,
    a: *const f32,
    a_row: isize,
    a_step: isize,
    b: *const Lane,
    /// Read by the kernels that run two panels at once (x86-64 only).
    #[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
    panel_stride: usize,
    c: *mut f32,
    c_row: isize,
    cols: usize,
    /// A shallow product `x·W` added to `start`'s row before the tile's own sums.
    input: Option<Pre>,
    start: Start,
}

/// `x·W` for a tile's rows: `x[r, k]` at `a + r·a_row + k·a_step`, row k of W's panel at
/// `b + k`, of its next panel at `b + panel_stride + k`.
#[derive(Clone, Copy)]
struct Pre {
    a: *const f32,
    a_row: isize,
    a_step: isize,
    b: *const Lane,
    panel_stride: usize,
    depth: usize,
}

impl Pre {
    /// `x[r, k]`.
    #[inline(always)]
    unsafe fn a(&self, r: usize, k: usize) -> f32 {
        unsafe {
            *self
                .a
                .offset(r as isize * self.a_row + k as isize * self.a_step)
        }
    }

    /// Row k of panel `panel` (0 or 1) of W.
    #[inline(always)]
    unsafe fn b_row(&self, panel: usize, k: usize) -> *const f32 {
        unsafe { self.b.add(panel * self.panel_stride + k).cast() }
    }
}

/// What a tile's sums are added to.
#[derive(Debug, Clone, Copy)]
enum Start {
    /// The output's values: `c += a·b`.
    Output,
    /// Nothing: `c = a·b`.
    Zero,
    /// One row, the same for every row of the tile: `c = row + a·b`.
    Row(*const f32),
}

/// Calls `$kernel::<rows>` for a run-time `rows` in `1..=$max`.
macro_rules! by_rows {
    ($rows:expr, $kernel:ident, $tile:expr, [$($r:literal)*]) => {
        match $rows {
            $($r => $kernel::<$r>($tile),)*
            other => unreachable!("tile of {other} rows"),
        }
    };
}

impl Tile {
    /// # Safety
    /// `simd` must be available and the tile's pointers valid for its sizes.
    unsafe fn run(&self, simd: Simd, rows: usize) {
        match simd {
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 if self.cols > NR => unsafe {
                by_rows!(rows, tile_avx512_wide, self, [1 2 3 4 5 6 7 8 9 10 11 12])
            },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx512 => unsafe {
                by_rows!(rows, tile_avx512, self, [1 2 3 4 5 6 7 8 9 10 11 12])
            },
            #[cfg(target_arch = "x86_64")]
            Simd::Avx2Fma => unsafe { by_rows!(rows, tile_avx2, self, [1 2 3 4 5 6]) },
            _ => unsafe { by_rows!(rows, tile_portable, self, [1 2 3 4]) },
        }
    }

    /// `a[r, k]`.
    #[inline(always)]
    unsafe fn a(&self, r: usize, k: usize) -> f32 {
        unsafe {
            *self
                .a
                .offset(r as isize * self.a_row + k as isize * self.a_step)
        }
    }

    /// Row k of the panel.
    #[inline(always)]
    unsafe fn b_row(&self, k: usize) -> *const f32 {
        unsafe { self.b.add(k).cast() }
    }

    /// Output row r.
    #[inline(always)]
    unsafe fn c_row(&self, r: usize) -> *mut f32 {
        unsafe { self.c.offset(r as isize * self.c_row) }
    }

    /// Where the values that output row r's sums are added to are read, if anywhere.
    #[inline(always)]
    unsafe fn base(&self, r: usize) -> Option<*const f32> {
        match self.start {
            Start::Output => Some(unsafe { self.c_row(r) }),
            Start::Zero => None,
            Start::Row(row) => Some(row),
        }
    }
}

/// `c (+)= a·b` for one tile in plain Rust: the reference every kernel must equal bit for bit.
unsafe fn tile_portable<const R: usize>(t: &Tile) {
    let mut acc = [[0.0f32; NR]; R];
    for k in 0..t.depth {
        // SAFETY: inside the tile (the caller's contract).
        let lane = unsafe { std::slice::from_raw_parts(t.b_row(k), NR) };
        for (r, acc_r) in acc.iter_mut().enumerate() {
            let a = unsafe { t.a(r, k) };
            for (acc, &b) in acc_r.iter_mut().zip(lane) {
                *acc = a.mul_add(b, *acc);
            }
        }
    }
    for (r, acc_r) in acc.iter().enumerate() {
        let input = t.input.map(|pre| {
            let mut sums = [0.0f32; NR];
            for k in 0..pre.depth {
                let lane = unsafe { std::slice::from_raw_parts(pre.b_row(0, k), NR) };
                let x = unsafe { pre.a(r, k) };
                for (sum, &w) in sums.iter_mut().zip(lane) {
                    *sum = x.mul_add(w, *sum);
                }
            }
            sums
        });
        for (j, &sum) in acc_r.iter().enumerate().take(t.cols) {
            let base = unsafe { t.base(r) };
            let value = base.map_or(sum, |base| {
                let start = unsafe { *base.add(j) };
                input.map_or(start, |input| start + input[j]) + sum
            });
            unsafe { *t.c_row(r).add(j) = value };
        }
    }
}

/// `x[r, ..]·W` for panel `panel` (0 or 1) of W: one multiply-add chain from zero, as a tile.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn input_avx512(pre: &Pre, r: usize, panel: usize) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let mut sum = _mm512_setzero_ps();
    for k in 0..pre.depth {
        let w = unsafe { _mm512_load_ps(pre.b_row(panel, k)) };
        sum = _mm512_fmadd_ps(_mm512_set1_ps(unsafe { pre.a(r, k) }), w, sum);
    }
    sum
}

/// [`input_avx512`] in two halves of eight lanes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[inline]
unsafe fn input_avx2(pre: &Pre, r: usize) -> [std::arch::x86_64::__m256; 2] {
    use std::arch::x86_64::*;
    let (mut low, mut high) = (_mm256_setzero_ps(), _mm256_setzero_ps());
    for k in 0..pre.depth {
        let row = unsafe { pre.b_row(0, k) };
        let x = _mm256_set1_ps(unsafe { pre.a(r, k) });
        low = _mm256_fmadd_ps(x, unsafe { _mm256_load_ps(row) }, low);
        high = _mm256_fmadd_ps(x, unsafe { _mm256_load_ps(row.add(8)) }, high);
    }
    [low, high]
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512<const R: usize>(t: &Tile) {
    use std::arch::x86_64::*;
    let mask_of = |n: usize| -> __mmask16 { if n >= NR { u16::MAX } else { (1u16 << n) - 1 } };
    let store_mask = mask_of(t.cols);
    let mut acc = [_mm512_setzero_ps(); R];
    for k in 0..t.depth {
        // SAFETY: a whole aligned lane of the panel.
        let b = unsafe { _mm512_load_ps(t.b_row(k)) };
        for (r, acc) in acc.iter_mut().enumerate() {
            let a = _mm512_set1_ps(unsafe { t.a(r, k) });
            *acc = _mm512_fmadd_ps(a, b, *acc);
        }
    }
    for (r, &sum) in acc.iter().enumerate() {
        let out = unsafe { t.c_row(r) };
        let value = match unsafe { t.base(r) } {
            None => sum,
            Some(base) => {
                let mut start = unsafe { _mm512_maskz_loadu_ps(store_mask, base) };
                if let Some(pre) = &t.input {
                    start = _mm512_add_ps(start, unsafe { input_avx512(pre, r, 0) });
                }
                _mm512_add_ps(start, sum)
            }
        };
        unsafe { _mm512_mask_storeu_ps(out, store_mask, value) };
    }
}

/// Two panels at once: `cols` in `NR + 1..=2·NR`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn tile_avx512_wide<const R: usize>(t: &Tile) {
    use std::arch::x86_64::*;
    let mut left = [_mm512_setzero_ps(); R];
    let mut right = [_mm512_setzero_ps(); R];
    for k in 0..t.depth {
        // SAFETY: whole aligned lanes of the two panels.
        let b_left = unsafe { _mm512_load_ps(t.b_row(k)) };
        let b_right = unsafe { _mm512_load_ps(t.b.add(t.panel_stride + k).cast()) };
        for r in 0..R {
            let a = _mm512_set1_ps(unsafe { t.a(r, k) });
            left[r] = _mm512_fmadd_ps(a, b_left, left[r]);
            right[r] = _mm512_fmadd_ps(a, b_right, right[r]);
        }
    }
    let right_mask: __mmask16 = if t.cols >= 2 * NR {
        u16::MAX
    } else {
        (1u16 << (t.cols - NR)) - 1
    };
    for r in 0..R {
        let out = unsafe { t.c_row(r) };
        let (mut v_left, mut v_right) = (left[r], right[r]);
        if let Some(base) = unsafe { t.base(r) } {
            let mut start_left = unsafe { _mm512_loadu_ps(base) };
            let mut start_right = unsafe { _mm512_maskz_loadu_ps(right_mask, base.add(NR)) };
            if let Some(pre) = &t.input {
                start_left = _mm512_add_ps(start_left, unsafe { input_avx512(pre, r, 0) });
                start_right = _mm512_add_ps(start_right, unsafe { input_avx512(pre, r, 1) });
            }
            v_left = _mm512_add_ps(start_left, v_left);
            v_right = _mm512_add_ps(start_right, v_right);
        }
        unsafe {
            _mm512_storeu_ps(out, v_left);
            _mm512_mask_storeu_ps(out.add(NR), right_mask, v_right);
        }
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn tile_avx2<const R: usize>(t: &Tile) {
    use std::arch::x86_64::*;
    let mut low = [_mm256_setzero_ps(); R];
    let mut high = [_mm256_setzero_ps(); R];
    for k in 0..t.depth {
        // SAFETY: a whole aligned lane of the panel.
        let row = unsafe { t.b_row(k) };
        let (b_low, b_high) = unsafe { (_mm256_load_ps(row), _mm256_load_ps(row.add(8))) };
        for r in 0..R {
            let a = _mm256_set1_ps(unsafe { t.a(r, k) });
            low[r] = _mm256_fmadd_ps(a, b_low, low[r]);
            high[r] = _mm256_fmadd_ps(a, b_high, high[r]);
        }
    }
    for r in 0..R {
        let out = unsafe { t.c_row(r) };
        let input = t.input.map(|pre| unsafe { input_avx2(&pre, r) });
        if t.cols == NR {
            let (mut v_low, mut v_high) = (low[r], high[r]);
            if let Some(base) = unsafe { t.base(r) } {
                let mut start_low = unsafe { _mm256_loadu_ps(base) };
                let mut start_high = unsafe { _mm256_loadu_ps(base.add(8)) };
                if let Some([input_low, input_high]) = input {
                    start_low = _mm256_add_ps(start_low, input_low);
                    start_high = _mm256_add_ps(start_high, input_high);
                }
                v_low = _mm256_add_ps(start_low, v_low);
                v_high = _mm256_add_ps(start_high, v_high);
            }
            unsafe {
                _mm256_storeu_ps(out, v_low);
                _mm256_storeu_ps(out.add(8), v_high);
            }
        } else {
            let mut sums = [0.0f32; NR];
            unsafe {
                _mm256_storeu_ps(sums.as_mut_ptr(), low[r]);
                _mm256_storeu_ps(sums.as_mut_ptr().add(8), high[r]);
            }
            let mut inputs = [0.0f32; NR];
            if let Some([input_low, input_high]) = input {
                unsafe {
                    _mm256_storeu_ps(inputs.as_mut_ptr(), input_low);
                    _mm256_storeu_ps(inputs.as_mut_ptr().add(8), input_high);
                }
            }
            let base = unsafe { t.base(r) };
            for (j, &sum) in sums.iter().enumerate().take(t.cols) {
                let value = base.map_or(sum, |base| {
                    let start = unsafe { *base.add(j) };
                    let start = if input.is_some() {
                        start + inputs[j]
                    } else {
                        start
                    };
                    start + sum
                });
                unsafe { *out.add(j) = value };
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::linalg::general_mat_mul;
    use ndarray::{Array2, s};

    fn filled(rows: usize, cols: usize, seed: usize) -> Array2<f32> {
        Array2::from_shape_fn((rows, cols), |(i, j)| {
            let v = ((i * 37 + j * 11 + seed * 7) % 101) as f32 / 50.0 - 1.0;
            v * (1.0 + (j % 3) as f32 * 0.37)
        })
    }

    /// Tiny, tall-skinny, wide, square, depth above KC, and every edge of a tile: each kernel
    /// equals `general_mat_mul` bit for bit, accumulating and overwriting, on strided views.
    #[test]
    fn every_kernel_equals_general_mat_mul_bit_for_bit() {
        let shapes = [
            (1, 1, 1),
            (3, 5, 7),
            (12, 16, 16),
            (13, 17, 33),
            (32, 50, 200),
            (4, 30, 120),
            (200, 3, 5),
            (5, 600, 40),
            (32, 512, 48),
            (7, 257, 31),
            (25, 64, 64),
            // Several row blocks (of 16 tiles) on every kernel, panels and depth blocks (a
            // weight gradient's shape).
            (201, 600, 70),
        ];
        // `a` as a strided view, and as a transpose (its tiles are copied first).
        let a_wide = |m: usize, k: usize| filled(m, k + 3, 1);
        let a_transposed = |m: usize, k: usize| filled(k, m, 7);
        for &simd in Simd::available() {
            for (&(m, k, n), transposed) in shapes
                .iter()
                .flat_map(|shape| [(shape, false), (shape, true)])
            {
                let (a_wide, a_transposed) = (a_wide(m, k), a_transposed(m, k));
                let a = if transposed {
                    a_transposed.t()
                } else {
                    a_wide.slice(s![.., 1..k + 1])
                };
                let b = filled(k, n, 2);
                let packed = PackedMatrix::new(b.view());
                assert_eq!(packed.dim(), (k, n));
                for accumulate in [true, false] {
                    let start = filled(m, n + 2, 3);
                    let mut want = start.slice(s![.., ..n]).to_owned();
                    let beta = if accumulate { 1.0 } else { 0.0 };
                    general_mat_mul(1.0, &a, &b, beta, &mut want);
                    let mut got = start.clone();
                    packed.multiply_with(simd, a, got.slice_mut(s![.., ..n]), accumulate);
                    for (i, (g, w)) in got.slice(s![.., ..n]).iter().zip(&want).enumerate() {
                        assert_eq!(
                            g.to_bits(),
                            w.to_bits(),
                            "{simd:?} {m}x{k}x{n} transposed={transposed} accumulate={accumulate} \
                             at {i}: {g} vs {w}"
                        );
                    }
                    // Columns past n are untouched.
                    assert_eq!(got.slice(s![.., n..]), start.slice(s![.., n..]));
                }
                // c = row + a·B rounds as c = row, then c += a·B.
                let row = filled(1, n, 4).row(0).to_owned();
                let mut want = Array2::from_shape_fn((m, n), |(_, j)| row[j]);
                general_mat_mul(1.0, &a, &b, 1.0, &mut want);
                let mut got = Array2::from_elem((m, n), f32::NAN);
                packed.checked_run(simd, a, got.view_mut(), Start::Row(row.as_ptr()), None);
                assert!(
                    got.iter()
                        .zip(&want)
                        .all(|(g, w)| g.to_bits() == w.to_bits()),
                    "{simd:?} {m}x{k}x{n} onto a row"
                );
            }
        }
    }

    /// A transposed operand packs as its transpose; splitting the rows changes no bit.
    /// Input depths 1 to FUSED_INPUT_DEPTH run in the tiles' epilogue, deeper ones as a first
    /// product: either way the bits of the two products one after the other, on every kernel,
    /// for strided inputs, depths above KC and every edge of a tile.
    #[test]
    fn input_then_product_in_one_pass_equals_two_products() {
        let shapes = [
            (1, 1, 1),
            (13, 17, 33),
            (32, 50, 200),
            (7, 257, 31),
            (25, 64, 64),
            // Several row blocks on every kernel: the input is added in each block's tiles.
            (201, 64, 64),
        ];
        for &simd in Simd::available() {
            for &(m, k, n) in &shapes {
                for f in [1, 3, FUSED_INPUT_DEPTH, FUSED_INPUT_DEPTH + 1] {
                    let a = filled(m, k, 1);
                    let x_wide = filled(m, f + 2, 4);
                    let x = x_wide.slice(s![.., 1..f + 1]);
                    let (b, w) = (filled(k, n, 2), filled(f, n, 5));
                    let row = filled(1, n, 6).row(0).to_owned();
                    let (packed_b, packed_w) =
                        (PackedMatrix::new(b.view()), PackedMatrix::new(w.view()));
                    let mut want = Array2::<f32>::zeros((m, n));
                    packed_w.multiply_onto_row(x, row.view(), want.view_mut());
                    packed_b.multiply(a.view(), want.view_mut(), true);
                    let mut got = Array2::<f32>::from_elem((m, n), f32::NAN);
                    packed_b.multiply_after_input_with(
                        simd,
                        a.view(),
                        &packed_w,
                        x,
                        row.view(),
                        got.view_mut(),
                    );
                    let bits = |c: &Array2<f32>| c.iter().map(|v| v.to_bits()).collect::<Vec<_>>();
                    assert_eq!(
                        bits(&got),
                        bits(&want),
                        "{simd:?}, {m}×{k}·{k}×{n}, input depth {f}"
                    );
                }
            }
        }
    }

    /// Column sums from the packing pass add the rows in order, bit for bit: small and large
    /// (packed on both cores) matrices, rows or columns contiguous, no rows at all; and the
    /// packing is the same as without sums.
    #[test]
    fn packing_sums_columns_row_by_row() {
        for (k, n) in [(1, 1), (7, 33), (960, 512), (600, 1000), (0, 5)] {
            let b = filled(k, n, 8);
            let b_t = filled(n, k, 8);
            for view in [b.view(), b_t.t()] {
                // The rows added in order to zeros (what `sum_axis` does on row-major arrays).
                let mut want = ndarray::Array1::<f32>::zeros(n);
                for row in view.rows() {
                    want += &row;
                }
                let mut sums = vec![f32::NAN; n];
                let mut packed = PackedMatrix::default();
                packed.pack_summing_columns(view, &mut sums);
                let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
                assert_eq!(bits(&sums), bits(want.as_slice().unwrap()), "{k}×{n}");
                let plain = PackedMatrix::new(view);
                assert_eq!(packed.dim(), plain.dim());
                assert!(
                    packed
                        .lanes
                        .iter()
                        .zip(&plain.lanes)
                        .all(|(p, q)| p.0 == q.0)
                );
            }
        }
    }

    #[test]
    fn a_transpose_packs_and_row_blocks_are_independent() {
        let u = filled(40, 160, 4);
        let dz = filled(32, 160, 5);
        let packed_t = PackedMatrix::new(u.t());
        let mut whole = Array2::zeros((32, 40));
        packed_t.multiply(dz.view(), whole.view_mut(), false);
        let want = dz.dot(&u.t());
        for (g, w) in whole.iter().zip(&want) {
            assert!((g - w).abs() <= 1e-5 * (1.0 + w.abs()), "{g} vs {w}");
        }
        let mut halves = Array2::zeros((32, 40));
        for rows in [0..13, 13..32] {
            packed_t.multiply(
                dz.slice(s![rows.clone(), ..]),
                halves.slice_mut(s![rows, ..]),
                false,
            );
        }
        assert_eq!(whole, halves);
    }

    /// Rows contiguous, columns contiguous, or neither: the same panels; repacking a new
    /// matrix of the same shape into the buffer leaves nothing of the old one.
    #[test]
    fn every_layout_packs_alike() {
        let big = filled(60, 90, 11);
        let strided = big.slice(s![..;2, ..;3]);
        let owned = strided.to_owned();
        let transposed_copy = owned.t().as_standard_layout().into_owned();
        let a = filled(7, 30, 12);
        let product = |packed: &PackedMatrix| {
            let mut c = Array2::zeros((7, 30));
            packed.multiply(a.view(), c.view_mut(), false);
            c
        };
        let want = product(&PackedMatrix::new(owned.view()));
        assert_eq!(product(&PackedMatrix::new(strided)), want);
        assert_eq!(product(&PackedMatrix::new(transposed_copy.t())), want);
        let mut reused = PackedMatrix::new(filled(30, 30, 13).view());
        reused.pack(strided);
        assert_eq!(product(&reused), want);
    }

    #[test]
    fn empty_depth_zeroes_or_keeps_the_output() {
        let packed = PackedMatrix::new(Array2::<f32>::zeros((0, 5)).view());
        let a = Array2::<f32>::zeros((3, 0));
        let mut c = Array2::from_elem((3, 5), 2.0);
        packed.multiply(a.view(), c.view_mut(), true);
        assert!(c.iter().all(|&v| v == 2.0));
        packed.multiply(a.view(), c.view_mut(), false);
        assert!(c.iter().all(|&v| v == 0.0));
    }
}
