// SPDX-License-Identifier: MPL-2.0

//! The paper's method: standardised landmarks and PCA-reduced flow feed two dense branches
//! (128 ReLU, dropout 0.5, 64 ReLU), concatenated into a 64 ReLU layer and the output: one
//! sigmoid unit for two classes (binary cross-entropy, as the paper), a softmax for more
//! (categorical cross-entropy). Adam. Everything random (initial weights, batch order,
//! dropout masks) comes from one seeded generator.
//!
//! Same data and seed give the same model, bit for bit, on any thread count and any x86_64
//! CPU: the maths is plain Rust loops on one thread, every sum taken in one fixed order, with
//! no run-time choice of SIMD kernels (the compiler's baseline x86_64 code is the same
//! everywhere, and Rust never fuses a multiply and an add on its own), and exp/log come from
//! the pure-Rust `libm` crate rather than the C library, whose versions are picked by CPU.
//! The inner loops run along contiguous rows with no reduction, so the compiler vectorises
//! them without reordering any sum.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::pca::Pca;

pub type Result<T> = std::result::Result<T, String>;

/// A row-major f32 matrix.
#[derive(Clone, Debug, PartialEq)]
pub struct Matrix {
    rows: usize,
    cols: usize,
    data: Vec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Result<Self> {
        if rows.checked_mul(cols) != Some(data.len()) {
            return Err(format!(
                "a {rows} x {cols} matrix needs {} values, got {}",
                rows.saturating_mul(cols),
                data.len()
            ));
        }
        Ok(Self { rows, cols, data })
    }

    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    pub fn into_data(self) -> Vec<f32> {
        self.data
    }

    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// Rows iterated in order (none for a matrix of no columns).
    fn row_iter(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.cols.max(1))
    }

    /// The rows `index` names, in that order.
    fn gather(&self, index: &[u32]) -> Self {
        let mut data = Vec::with_capacity(index.len() * self.cols);
        for &i in index {
            data.extend_from_slice(self.row(i as usize));
        }
        Self {
            rows: index.len(),
            cols: self.cols,
            data,
        }
    }
}

/// `out[i][c] += sum over s of a[i][s] b[s][c]` for `a` [rows, steps] and `b` [steps, cols],
/// row-major: every value is summed over s in ascending order, in a loop along the contiguous
/// row `c` that the compiler vectorises without reordering any sum. Rows go four at a time, so
/// each row of `b` is loaded once for four.
fn accumulate_product(a: &[f32], steps: usize, b: &[f32], cols: usize, out: &mut [f32]) {
    if cols == 0 || steps == 0 {
        return;
    }
    let mut rows_a = a.chunks_exact(steps * 4);
    let mut rows_out = out.chunks_exact_mut(cols * 4);
    for (a4, o4) in (&mut rows_a).zip(&mut rows_out) {
        let (a0, rest) = a4.split_at(steps);
        let (a1, rest) = rest.split_at(steps);
        let (a2, a3) = rest.split_at(steps);
        let (o0, rest) = o4.split_at_mut(cols);
        let (o1, rest) = rest.split_at_mut(cols);
        let (o2, o3) = rest.split_at_mut(cols);
        for (s, bs) in b.chunks_exact(cols).enumerate() {
            let (v0, v1, v2, v3) = (a0[s], a1[s], a2[s], a3[s]);
            for ((((&bv, y0), y1), y2), y3) in bs
                .iter()
                .zip(o0.iter_mut())
                .zip(o1.iter_mut())
                .zip(o2.iter_mut())
                .zip(o3.iter_mut())
            {
                *y0 += v0 * bv;
                *y1 += v1 * bv;
                *y2 += v2 * bv;
                *y3 += v3 * bv;
            }
        }
    }
    for (ar, or) in rows_a
        .remainder()
        .chunks_exact(steps)
        .zip(rows_out.into_remainder().chunks_exact_mut(cols))
    {
        for (&v, bs) in ar.iter().zip(b.chunks_exact(cols)) {
            for (y, &bv) in or.iter_mut().zip(bs) {
                *y += v * bv;
            }
        }
    }
}

/// The transpose of `m` [rows, cols] row-major.
fn transpose(m: &[f32], rows: usize, cols: usize) -> Vec<f32> {
    let mut t = vec![0.0f32; m.len()];
    if cols > 0 {
        for (r, row) in m.chunks_exact(cols).enumerate().take(rows) {
            for (c, &v) in row.iter().enumerate() {
                t[c * rows + r] = v;
            }
        }
    }
    t
}

/// `y[i] = x[i] w + b` for `w` [inputs, outputs] row-major: each output sums its inputs in
/// ascending order from 0, then adds the bias.
fn affine(x: &Matrix, w: &[f32], b: &[f32]) -> Matrix {
    let outputs = b.len();
    let mut y = Matrix::zeros(x.rows, outputs);
    accumulate_product(&x.data, x.cols, w, outputs, &mut y.data);
    if outputs > 0 {
        for row in y.data.chunks_exact_mut(outputs) {
            for (v, &bv) in row.iter_mut().zip(b) {
                *v += bv;
            }
        }
    }
    y
}

/// `g[k][o] = sum over i of x[i][k] d[i][o]`, i ascending from 0: the weight gradient, in the
/// weight's [inputs, outputs] layout.
fn weight_gradient(x: &Matrix, d: &Matrix) -> Vec<f32> {
    let mut g = vec![0.0f32; x.cols * d.cols];
    accumulate_product(
        &transpose(&x.data, x.rows, x.cols),
        x.rows,
        &d.data,
        d.cols,
        &mut g,
    );
    g
}

/// `g[o] = sum over i of d[i][o]`, i ascending from 0.
fn bias_gradient(d: &Matrix) -> Vec<f32> {
    let mut g = vec![0.0f32; d.cols];
    for dr in d.row_iter() {
        for (v, &dv) in g.iter_mut().zip(dr) {
            *v += dv;
        }
    }
    g
}

/// `dx[i][k] = sum over o of d[i][o] w[k][o]`, o ascending from 0: the gradient of a layer's
/// input (`w` [inputs, outputs]).
fn input_gradient(d: &Matrix, w: &[f32], inputs: usize) -> Matrix {
    let mut dx = Matrix::zeros(d.rows, inputs);
    let wt = transpose(w, inputs, d.cols);
    accumulate_product(&d.data, d.cols, &wt, inputs, &mut dx.data);
    dx
}

fn relu(mut x: Matrix) -> Matrix {
    for v in &mut x.data {
        *v = v.max(0.0);
    }
    x
}

/// `d` where the layer's ReLU output `a` was positive, 0 elsewhere.
fn relu_backward(mut d: Matrix, a: &Matrix) -> Matrix {
    for (g, &v) in d.data.iter_mut().zip(&a.data) {
        if v <= 0.0 {
            *g = 0.0;
        }
    }
    d
}

/// Side by side: [a | b].
fn concat(a: &Matrix, b: &Matrix) -> Matrix {
    let mut data = Vec::with_capacity(a.data.len() + b.data.len());
    for (ar, br) in a.row_iter().zip(b.row_iter()) {
        data.extend_from_slice(ar);
        data.extend_from_slice(br);
    }
    Matrix {
        rows: a.rows,
        cols: a.cols + b.cols,
        data,
    }
}

/// Columns `from..from + cols`.
fn columns(x: &Matrix, from: usize, cols: usize) -> Matrix {
    let mut data = Vec::with_capacity(x.rows * cols);
    for r in x.row_iter() {
        data.extend_from_slice(&r[from..from + cols]);
    }
    Matrix {
        rows: x.rows,
        cols,
        data,
    }
}

/// Standardisation of both branches and the flow PCA, fitted on training data only.
#[derive(Clone, Debug)]
pub struct Preprocess {
    pub landmark_mean: Vec<f32>,
    pub landmark_std: Vec<f32>,
    pub flow_mean: Vec<f32>,
    /// [flow values, components], row-major.
    pub pca_matrix: Vec<f32>,
    /// Standard deviation of each component on the training data.
    pub pca_std: Vec<f32>,
    pub components: usize,
    pub variance_explained: f64,
}

impl Preprocess {
    /// `landmarks` rows of `l` values; `pca` fitted on the training flow.
    pub fn fit(landmarks: &[f32], l: usize, pca: &Pca) -> Self {
        let n = landmarks.len() / l.max(1);
        let mut mean = vec![0.0f64; l];
        let mut square = vec![0.0f64; l];
        for row in landmarks.chunks_exact(l.max(1)) {
            for (j, &v) in row.iter().enumerate() {
                mean[j] += v as f64;
                square[j] += (v as f64) * (v as f64);
            }
        }
        let n = n.max(1) as f64;
        let landmark_mean: Vec<f32> = mean.iter().map(|m| (m / n) as f32).collect();
        let landmark_std = mean
            .iter()
            .zip(&square)
            .map(|(m, s)| {
                let var = (s / n - (m / n) * (m / n)).max(0.0);
                // A coordinate that never moves carries nothing: divide by 1, not by ~0.
                if var.sqrt() > 1e-6 {
                    var.sqrt() as f32
                } else {
                    1.0
                }
            })
            .collect();
        Self {
            landmark_mean,
            landmark_std,
            flow_mean: pca.mean.clone(),
            pca_matrix: pca.matrix.clone(),
            pca_std: pca
                .std
                .iter()
                .map(|&s| if s > 1e-6 { s } else { 1.0 })
                .collect(),
            components: pca.components,
            variance_explained: pca.variance_explained,
        }
    }

    /// Raw rows to the network's inputs, (landmarks [n, l], flow [n, k]): the ONNX graph's
    /// Sub, Div, Sub, MatMul, Div.
    pub fn apply(&self, landmarks: &Matrix, flow: &Matrix) -> Result<(Matrix, Matrix)> {
        let (l, f, k) = (
            self.landmark_mean.len(),
            self.flow_mean.len(),
            self.components,
        );
        if landmarks.cols != l || flow.cols != f || landmarks.rows != flow.rows {
            return Err(format!(
                "inputs of {} x {} landmarks and {} x {} flow values, the model takes {l} and {f}",
                landmarks.rows, landmarks.cols, flow.rows, flow.cols
            ));
        }
        if self.pca_matrix.len() != f * k || self.pca_std.len() != k {
            return Err("the PCA matrix does not fit its sizes".into());
        }
        let mut lm = landmarks.clone();
        for r in lm.data.chunks_exact_mut(l.max(1)) {
            for ((v, m), s) in r
                .iter_mut()
                .zip(&self.landmark_mean)
                .zip(&self.landmark_std)
            {
                *v = (*v - m) / s;
            }
        }
        let mut centred = flow.clone();
        for r in centred.data.chunks_exact_mut(f.max(1)) {
            for (v, m) in r.iter_mut().zip(&self.flow_mean) {
                *v -= m;
            }
        }
        let mut fl = affine(&centred, &self.pca_matrix, &vec![0.0; k]);
        for r in fl.data.chunks_exact_mut(k.max(1)) {
            for (v, s) in r.iter_mut().zip(&self.pca_std) {
                *v /= s;
            }
        }
        Ok((lm, fl))
    }
}

/// A dense layer's values, ONNX Gemm's (transB) layout: weight [outputs, inputs].
#[derive(Clone, Debug, PartialEq)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NetWeights {
    pub landmark1: Dense,
    pub landmark2: Dense,
    pub flow1: Dense,
    pub flow2: Dense,
    pub head: Dense,
    pub output: Dense,
}

/// Everything the ONNX file holds.
#[derive(Clone, Debug)]
pub struct Trained {
    pub preprocess: Preprocess,
    pub net: NetWeights,
    pub labels: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct TrainConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub learning_rate: f64,
    pub dropout: f32,
    pub seed: u64,
}

#[derive(Clone, Debug)]
pub struct EpochLog {
    pub epoch: usize,
    pub train_loss: f64,
    pub train_accuracy: f64,
    pub validation_loss: Option<f64>,
    pub validation_accuracy: Option<f64>,
}

/// Standardised inputs and labels of some frames.
pub struct Batch {
    pub landmarks: Matrix,
    pub flow: Matrix,
    pub labels: Vec<u32>,
}

/// A dense layer while training: weight [inputs, outputs] (the forward pass and the weight
/// gradient run along contiguous output rows).
#[derive(Clone)]
struct Layer {
    inputs: usize,
    outputs: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl Layer {
    /// Glorot uniform as Keras, drawn in [outputs, inputs] order.
    fn glorot(inputs: usize, outputs: usize, rng: &mut StdRng) -> Self {
        let limit = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
        let drawn: Vec<f32> = (0..inputs * outputs)
            .map(|_| rng.random_range(-limit..limit))
            .collect();
        Self::from_dense(&Dense {
            inputs,
            outputs,
            weight: drawn,
            bias: vec![0.0; outputs],
        })
    }

    fn from_dense(d: &Dense) -> Self {
        let mut weight = vec![0.0f32; d.inputs * d.outputs];
        for (o, row) in d
            .weight
            .chunks_exact(d.inputs.max(1))
            .take(d.outputs)
            .enumerate()
        {
            for (k, &v) in row.iter().enumerate() {
                weight[k * d.outputs + o] = v;
            }
        }
        Self {
            inputs: d.inputs,
            outputs: d.outputs,
            weight,
            bias: d.bias.clone(),
        }
    }

    fn to_dense(&self) -> Dense {
        let mut weight = vec![0.0f32; self.inputs * self.outputs];
        for (k, row) in self
            .weight
            .chunks_exact(self.outputs.max(1))
            .take(self.inputs)
            .enumerate()
        {
            for (o, &v) in row.iter().enumerate() {
                weight[o * self.inputs + k] = v;
            }
        }
        Dense {
            inputs: self.inputs,
            outputs: self.outputs,
            weight,
            bias: self.bias.clone(),
        }
    }

    fn forward(&self, x: &Matrix) -> Matrix {
        affine(x, &self.weight, &self.bias)
    }

    fn check(&self, inputs: usize) -> Result<()> {
        if inputs != self.inputs
            || self.weight.len() != self.inputs * self.outputs
            || self.bias.len() != self.outputs
        {
            return Err(format!(
                "a layer of {} x {} weights and {} biases fed {inputs} values",
                self.inputs,
                self.outputs,
                self.bias.len()
            ));
        }
        Ok(())
    }
}

/// Gradients of one layer, in its layout.
struct LayerGradient {
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl LayerGradient {
    fn of(x: &Matrix, d: &Matrix) -> Self {
        Self {
            weight: weight_gradient(x, d),
            bias: bias_gradient(d),
        }
    }
}

/// What the forward pass keeps for the backward one.
struct Activations {
    /// Branch outputs after the first layer (ReLU), before and after dropout, and their masks.
    lm1: Matrix,
    lm1_dropped: Matrix,
    lm1_mask: Option<Vec<f32>>,
    lm2: Matrix,
    fl1: Matrix,
    fl1_dropped: Matrix,
    fl1_mask: Option<Vec<f32>>,
    fl2: Matrix,
    fused: Matrix,
    head: Matrix,
    logits: Matrix,
}

/// The six layers in the order they are drawn: landmark 1 and 2, flow 1 and 2, head, output.
#[derive(Clone)]
struct Net {
    layers: [Layer; 6],
    dropout: f32,
}

impl Net {
    fn new(landmarks: usize, flow: usize, outputs: usize, dropout: f32, rng: &mut StdRng) -> Self {
        Self {
            layers: [
                Layer::glorot(landmarks, 128, rng),
                Layer::glorot(128, 64, rng),
                Layer::glorot(flow, 128, rng),
                Layer::glorot(128, 64, rng),
                Layer::glorot(128, 64, rng),
                Layer::glorot(64, outputs, rng),
            ],
            dropout,
        }
    }

    fn from_weights(w: &NetWeights) -> Result<Self> {
        let net = Self {
            layers: [
                Layer::from_dense(&w.landmark1),
                Layer::from_dense(&w.landmark2),
                Layer::from_dense(&w.flow1),
                Layer::from_dense(&w.flow2),
                Layer::from_dense(&w.head),
                Layer::from_dense(&w.output),
            ],
            dropout: 0.0,
        };
        let [l1, l2, f1, f2, head, out] = &net.layers;
        l2.check(l1.outputs)?;
        f2.check(f1.outputs)?;
        head.check(l2.outputs + f2.outputs)?;
        out.check(head.outputs)?;
        Ok(net)
    }

    fn weights(&self) -> NetWeights {
        let [l1, l2, f1, f2, head, out] = &self.layers;
        NetWeights {
            landmark1: l1.to_dense(),
            landmark2: l2.to_dense(),
            flow1: f1.to_dense(),
            flow2: f2.to_dense(),
            head: head.to_dense(),
            output: out.to_dense(),
        }
    }

    /// Dropout in training only (`rng` given): a mask of 1/keep or 0 per value, drawn in
    /// row-major order.
    fn drop(&self, x: &Matrix, rng: Option<&mut StdRng>) -> (Matrix, Option<Vec<f32>>) {
        let Some(rng) = rng else {
            return (x.clone(), None);
        };
        let keep = 1.0 - self.dropout;
        let mask: Vec<f32> = (0..x.data.len())
            .map(|_| {
                if rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mut dropped = x.clone();
        for (v, m) in dropped.data.iter_mut().zip(&mask) {
            *v *= m;
        }
        (dropped, Some(mask))
    }

    /// The forward pass; the landmark branch's dropout mask is drawn before the flow
    /// branch's.
    fn forward(
        &self,
        lm: &Matrix,
        fl: &Matrix,
        mut rng: Option<&mut StdRng>,
    ) -> Result<Activations> {
        let [l1, l2, f1, f2, head, out] = &self.layers;
        l1.check(lm.cols)?;
        f1.check(fl.cols)?;
        if lm.rows != fl.rows {
            return Err(format!(
                "{} landmark rows and {} flow rows",
                lm.rows, fl.rows
            ));
        }
        let lm1 = relu(l1.forward(lm));
        let (lm1_dropped, lm1_mask) = self.drop(&lm1, rng.as_deref_mut());
        let lm2 = relu(l2.forward(&lm1_dropped));
        let fl1 = relu(f1.forward(fl));
        let (fl1_dropped, fl1_mask) = self.drop(&fl1, rng);
        let fl2 = relu(f2.forward(&fl1_dropped));
        let fused = concat(&lm2, &fl2);
        let head_out = relu(head.forward(&fused));
        let logits = out.forward(&head_out);
        Ok(Activations {
            lm1,
            lm1_dropped,
            lm1_mask,
            lm2,
            fl1,
            fl1_dropped,
            fl1_mask,
            fl2,
            fused,
            head: head_out,
            logits,
        })
    }

    /// Gradients of every layer, in the layers' order, from the loss gradient `d_logits`.
    fn backward(
        &self,
        lm: &Matrix,
        fl: &Matrix,
        a: &Activations,
        d_logits: &Matrix,
    ) -> [LayerGradient; 6] {
        let [_, l2, _, f2, head, out] = &self.layers;
        let g_out = LayerGradient::of(&a.head, d_logits);
        let d_head = relu_backward(input_gradient(d_logits, &out.weight, out.inputs), &a.head);
        let g_head = LayerGradient::of(&a.fused, &d_head);
        let d_fused = input_gradient(&d_head, &head.weight, head.inputs);
        let d_lm2 = relu_backward(columns(&d_fused, 0, l2.outputs), &a.lm2);
        let d_fl2 = relu_backward(columns(&d_fused, l2.outputs, f2.outputs), &a.fl2);
        let branch = |layer: &Layer,
                      x: &Matrix,
                      first: &Matrix,
                      dropped: &Matrix,
                      mask: &Option<Vec<f32>>,
                      d2: &Matrix|
         -> (LayerGradient, LayerGradient) {
            let g2 = LayerGradient::of(dropped, d2);
            let mut d1 = input_gradient(d2, &layer.weight, layer.inputs);
            if let Some(mask) = mask {
                for (g, m) in d1.data.iter_mut().zip(mask) {
                    *g *= m;
                }
            }
            let d1 = relu_backward(d1, first);
            (LayerGradient::of(x, &d1), g2)
        };
        let (g_l1, g_l2) = branch(l2, lm, &a.lm1, &a.lm1_dropped, &a.lm1_mask, &d_lm2);
        let (g_f1, g_f2) = branch(f2, fl, &a.fl1, &a.fl1_dropped, &a.fl1_mask, &d_fl2);
        [g_l1, g_l2, g_f1, g_f2, g_head, g_out]
    }
}

fn sigmoid(z: f32) -> f32 {
    if z >= 0.0 {
        1.0 / (1.0 + libm::expf(-z))
    } else {
        let e = libm::expf(z);
        e / (1.0 + e)
    }
}

/// Class probabilities of `logits`: [1 - p, p] of the sigmoid for one output, the softmax for
/// more.
fn probabilities(logits: &Matrix) -> Vec<Vec<f32>> {
    logits
        .row_iter()
        .map(|z| {
            if z.len() == 1 {
                let p = sigmoid(z[0]);
                vec![1.0 - p, p]
            } else {
                let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let e: Vec<f32> = z.iter().map(|&v| libm::expf(v - max)).collect();
                let mut sum = 0.0f32;
                for &v in &e {
                    sum += v;
                }
                e.iter().map(|v| v / sum).collect()
            }
        })
        .collect()
}

/// Mean loss over the rows and its gradient with respect to the logits: binary cross-entropy
/// on the logit, `max(z, 0) - z y + log(1 + exp(-|z|))` (the log of a sigmoid that rounds to 0
/// or 1 in f32 would give inf), or categorical cross-entropy on the log-softmax.
fn loss_and_gradient(logits: &Matrix, labels: &[u32]) -> (f64, Matrix) {
    let n = logits.rows.max(1) as f32;
    let mut total = 0.0f64;
    let mut d = Matrix::zeros(logits.rows, logits.cols);
    for ((z, g), &y) in logits
        .row_iter()
        .zip(d.data.chunks_exact_mut(logits.cols.max(1)))
        .zip(labels)
    {
        if z.len() == 1 {
            let (z, y) = (z[0], y as f32);
            let loss = z.max(0.0) - z * y + libm::log1pf(libm::expf(-z.abs()));
            total += loss as f64;
            g[0] = (sigmoid(z) - y) / n;
        } else {
            let max = z.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let e: Vec<f32> = z.iter().map(|&v| libm::expf(v - max)).collect();
            let mut sum = 0.0f32;
            for &v in &e {
                sum += v;
            }
            let log_sum = libm::logf(sum);
            let y = y as usize;
            if let Some(&zy) = z.get(y) {
                total += (log_sum - (zy - max)) as f64;
            }
            for (j, (gv, ev)) in g.iter_mut().zip(&e).enumerate() {
                let target = if j == y { 1.0 } else { 0.0 };
                *gv = (ev / sum - target) / n;
            }
        }
    }
    (total / logits.rows.max(1) as f64, d)
}

/// The first class of highest probability.
fn argmax(p: &[f32]) -> usize {
    let mut best = 0;
    for (i, &v) in p.iter().enumerate() {
        if v > p[best] {
            best = i;
        }
    }
    best
}

fn correct(probabilities: &[Vec<f32>], labels: &[u32]) -> usize {
    probabilities
        .iter()
        .zip(labels)
        .filter(|(p, y)| argmax(p) == **y as usize)
        .count()
}

/// Adam (bias-corrected, no weight decay), moments per value.
struct Adam {
    learning_rate: f32,
    beta1: f32,
    beta2: f32,
    eps: f32,
    /// beta1^t and beta2^t, by repeated multiplication in f64.
    beta1_t: f64,
    beta2_t: f64,
    moments: Vec<(Vec<f32>, Vec<f32>)>,
}

impl Adam {
    fn new(net: &Net, learning_rate: f64) -> Self {
        let moments = net
            .layers
            .iter()
            .flat_map(|l| [l.weight.len(), l.bias.len()])
            .map(|n| (vec![0.0; n], vec![0.0; n]))
            .collect();
        Self {
            learning_rate: learning_rate as f32,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-7,
            beta1_t: 1.0,
            beta2_t: 1.0,
            moments,
        }
    }

    fn step(&mut self, net: &mut Net, gradients: &[LayerGradient; 6]) {
        self.beta1_t *= self.beta1 as f64;
        self.beta2_t *= self.beta2 as f64;
        let scale_m = (1.0 / (1.0 - self.beta1_t)) as f32;
        let scale_v = (1.0 / (1.0 - self.beta2_t)) as f32;
        let (b1, b2) = (self.beta1, self.beta2);
        let (c1, c2) = (1.0 - b1, 1.0 - b2);
        let (lr, eps) = (self.learning_rate, self.eps);
        let values = net
            .layers
            .iter_mut()
            .zip(gradients)
            .flat_map(|(l, g)| [(&mut l.weight, &g.weight), (&mut l.bias, &g.bias)]);
        for ((value, grad), (m, v)) in values.zip(&mut self.moments) {
            for (((x, &g), m), v) in value.iter_mut().zip(grad).zip(m).zip(v) {
                *m = *m * b1 + g * c1;
                *v = *v * b2 + g * g * c2;
                let m_hat = *m * scale_m;
                let v_hat = *v * scale_v;
                *x -= m_hat / (v_hat.sqrt() + eps) * lr;
            }
        }
    }
}

/// Trains the network on `train`, logging loss and accuracy per epoch (and on `validation`).
pub fn train(
    train: &Batch,
    validation: Option<&Batch>,
    classes: usize,
    cfg: &TrainConfig,
) -> Result<(NetWeights, Vec<EpochLog>)> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (n, l, f) = (train.landmarks.rows, train.landmarks.cols, train.flow.cols);
    if train.flow.rows != n || train.labels.len() != n {
        return Err(format!(
            "{n} landmark rows, {} flow rows and {} labels",
            train.flow.rows,
            train.labels.len()
        ));
    }
    let outputs = if classes == 2 { 1 } else { classes };
    let mut net = Net::new(l, f, outputs, cfg.dropout, &mut rng);
    let mut adam = Adam::new(&net, cfg.learning_rate);
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut log = Vec::with_capacity(cfg.epochs);
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut right) = (0.0f64, 0usize);
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            let lm = train.landmarks.gather(chunk);
            let fl = train.flow.gather(chunk);
            let labels: Vec<u32> = chunk.iter().map(|&i| train.labels[i as usize]).collect();
            let a = net.forward(&lm, &fl, Some(&mut rng))?;
            let (loss, d_logits) = loss_and_gradient(&a.logits, &labels);
            let gradients = net.backward(&lm, &fl, &a, &d_logits);
            adam.step(&mut net, &gradients);
            loss_sum += loss * chunk.len() as f64;
            right += correct(&probabilities(&a.logits), &labels);
        }
        let (validation_loss, validation_accuracy) = match validation {
            Some(v) => {
                let a = net.forward(&v.landmarks, &v.flow, None)?;
                let (loss, _) = loss_and_gradient(&a.logits, &v.labels);
                let right = correct(&probabilities(&a.logits), &v.labels);
                (
                    Some(loss),
                    Some(right as f64 / v.labels.len().max(1) as f64),
                )
            }
            None => (None, None),
        };
        log.push(EpochLog {
            epoch,
            train_loss: loss_sum / n.max(1) as f64,
            train_accuracy: right as f64 / n.max(1) as f64,
            validation_loss,
            validation_accuracy,
        });
    }
    Ok((net.weights(), log))
}

impl Trained {
    /// Class probabilities of raw feature rows: what the ONNX graph must reproduce (the parity
    /// tests compare them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn predict(&self, landmarks: &Matrix, flow: &Matrix) -> Result<Vec<Vec<f32>>> {
        let (lm, fl) = self.preprocess.apply(landmarks, flow)?;
        self.predict_standardised(&lm, &fl)
    }

    pub fn predict_standardised(&self, lm: &Matrix, fl: &Matrix) -> Result<Vec<Vec<f32>>> {
        let net = Net::from_weights(&self.net)?;
        Ok(probabilities(&net.forward(lm, fl, None)?.logits))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Rows whose first values move with the class, the rest deterministic clutter.
    fn batch(n: usize, l: usize, f: usize, classes: usize) -> Batch {
        let labels: Vec<u32> = (0..n).map(|i| (i % classes) as u32).collect();
        let values = |width: usize, salt: usize| {
            (0..n * width)
                .map(|i| {
                    let (r, c) = (i / width, i % width);
                    let clutter = ((r * 37 + c * 11 + salt) % 29) as f32 / 29.0 - 0.5;
                    let signal = if c % 4 == 0 {
                        labels[r] as f32 - 0.5
                    } else {
                        0.0
                    };
                    clutter + signal
                })
                .collect::<Vec<f32>>()
        };
        Batch {
            landmarks: Matrix::new(n, l, values(l, 3)).unwrap(),
            flow: Matrix::new(n, f, values(f, 7)).unwrap(),
            labels,
        }
    }

    fn config(seed: u64) -> TrainConfig {
        TrainConfig {
            epochs: 4,
            batch_size: 8,
            learning_rate: 0.01,
            dropout: 0.5,
            seed,
        }
    }

    fn bits(w: &NetWeights) -> Vec<u32> {
        [
            &w.landmark1,
            &w.landmark2,
            &w.flow1,
            &w.flow2,
            &w.head,
            &w.output,
        ]
        .iter()
        .flat_map(|d| d.weight.iter().chain(&d.bias).map(|v| v.to_bits()))
        .collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_weights_and_another_seed_others() {
        for classes in [2, 3] {
            let data = batch(40, 12, 5, classes);
            let (a, log_a) = train(&data, Some(&data), classes, &config(7)).unwrap();
            let (b, log_b) = train(&data, Some(&data), classes, &config(7)).unwrap();
            assert_eq!(bits(&a), bits(&b), "{classes} classes");
            let losses = |log: &[EpochLog]| -> Vec<u64> {
                log.iter()
                    .flat_map(|e| {
                        [
                            e.train_loss.to_bits(),
                            e.validation_loss.unwrap_or(0.0).to_bits(),
                        ]
                    })
                    .collect()
            };
            assert_eq!(losses(&log_a), losses(&log_b));
            let (c, _) = train(&data, Some(&data), classes, &config(8)).unwrap();
            let (wa, wc) = (bits(&a), bits(&c));
            let differing = wa.iter().zip(&wc).filter(|(x, y)| x != y).count();
            assert!(
                differing > wa.len() / 2,
                "seed 8 changed only {differing} of {} values",
                wa.len()
            );
        }
    }

    /// The weights one fixed run gives, as a checksum of their bits: the same on every
    /// machine. A change to the trainer's maths changes it (update it then, on purpose).
    #[test]
    fn a_fixed_run_gives_known_weights() {
        let data = batch(40, 12, 5, 2);
        let (w, _) = train(&data, None, 2, &config(3)).unwrap();
        // FNV-1a over the weights' bits in layer order.
        let mut hash = 0xcbf2_9ce4_8422_2325u64;
        for b in bits(&w) {
            for byte in b.to_le_bytes() {
                hash ^= byte as u64;
                hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
            }
        }
        assert_eq!(hash, KNOWN_WEIGHTS, "weights checksum {hash:#018x}");
    }

    const KNOWN_WEIGHTS: u64 = 0xe36b_3f5e_f44b_518c;

    /// The backward pass against central differences of the loss, with dropout (the same
    /// masks every time: they are drawn from a generator seeded afresh for each pass).
    /// Coordinates whose step moves a ReLU across its kink are left out.
    #[test]
    fn gradients_match_finite_differences() {
        for (classes, dropout) in [(2, 0.0), (2, 0.5), (3, 0.0), (3, 0.5)] {
            let data = batch(6, 5, 4, classes);
            let outputs = if classes == 2 { 1 } else { classes };
            let mut rng = StdRng::seed_from_u64(11);
            let mut net = Net::new(5, 4, outputs, dropout, &mut rng);
            // Nonzero biases, so fewer units sit exactly at their kink.
            for layer in &mut net.layers {
                for b in &mut layer.bias {
                    *b = rng.random_range(-0.1..0.1);
                }
            }
            let run = |net: &Net| {
                let mut masks = StdRng::seed_from_u64(5);
                let a = net
                    .forward(&data.landmarks, &data.flow, Some(&mut masks))
                    .unwrap();
                let active: Vec<bool> = [&a.lm1, &a.lm2, &a.fl1, &a.fl2, &a.head]
                    .iter()
                    .flat_map(|m| m.data.iter().map(|&v| v > 0.0))
                    .collect();
                (a, active)
            };
            let (a, active) = run(&net);
            let (_, d) = loss_and_gradient(&a.logits, &data.labels);
            let gradients = net.backward(&data.landmarks, &data.flow, &a, &d);
            let h = 1e-3f32;
            let (mut checked, mut skipped) = (0, 0);
            for (li, g) in gradients.iter().enumerate() {
                for (which, analytic) in [(0, &g.weight), (1, &g.bias)] {
                    // Every bias, every 23rd weight (a different one in each layer).
                    let step = if which == 0 { 23 } else { 1 };
                    for (i, &expected) in analytic.iter().enumerate().skip(li).step_by(step) {
                        let moved = |step: f32| {
                            let mut n = net.clone();
                            let l = &mut n.layers[li];
                            let v = if which == 0 {
                                &mut l.weight[i]
                            } else {
                                &mut l.bias[i]
                            };
                            *v += step;
                            run(&n)
                        };
                        let ((plus, plus_active), (minus, minus_active)) = (moved(h), moved(-h));
                        if plus_active != active || minus_active != active {
                            skipped += 1;
                            continue;
                        }
                        let loss = |a: &Activations| loss_and_gradient(&a.logits, &data.labels).0;
                        let numeric = (loss(&plus) - loss(&minus)) / (2.0 * h as f64);
                        assert!(
                            (numeric - expected as f64).abs() < 5e-4 + 0.02 * numeric.abs(),
                            "{classes} classes, dropout {dropout}, layer {li}, {} {i}: \
                             backward {expected}, numeric {numeric}",
                            if which == 0 { "weight" } else { "bias" }
                        );
                        checked += 1;
                    }
                }
            }
            assert!(
                checked > 200 && checked > 5 * skipped,
                "{checked} checked, {skipped} skipped"
            );
        }
    }

    #[test]
    fn the_network_learns_a_separable_problem() {
        let data = batch(64, 12, 5, 2);
        let cfg = TrainConfig {
            epochs: 30,
            ..config(1)
        };
        let (_, log) = train(&data, Some(&data), 2, &cfg).unwrap();
        let last = log.last().unwrap();
        assert!(last.validation_accuracy.unwrap() > 0.95, "{last:?}");
        assert!(last.train_loss < log[0].train_loss, "{log:?}");
    }

    #[test]
    fn export_layout_round_trips() {
        let mut rng = StdRng::seed_from_u64(1);
        let layer = Layer::glorot(7, 3, &mut rng);
        let dense = layer.to_dense();
        assert_eq!(dense.weight.len(), 21);
        // Dense is [outputs, inputs]: row o, column k is the layer's [k][o].
        assert_eq!(dense.weight[2 * 7 + 5], layer.weight[5 * 3 + 2]);
        let back = Layer::from_dense(&dense);
        assert_eq!(back.weight, layer.weight);
    }
}
