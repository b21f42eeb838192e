// SPDX-License-Identifier: MPL-2.0

//! The paper's method on candle: standardised landmarks and PCA-reduced flow feed two dense
//! branches (128 ReLU, dropout 0.5, 64 ReLU), concatenated into a 64 ReLU layer and the
//! output: one sigmoid unit for two classes (binary cross-entropy, as the paper), a softmax
//! for more (categorical cross-entropy). Adam. Everything random (initial weights, batch
//! order, dropout masks) comes from one seeded generator: candle's CPU generator cannot be
//! seeded, so weights are drawn here (Glorot uniform, as Keras) and dropout masks are
//! multiplied in.

use candle_core::{D, DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW};
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

use crate::pca::Pca;

pub type Result<T> = std::result::Result<T, String>;

fn c<T>(r: candle_core::Result<T>) -> Result<T> {
    r.map_err(|e| format!("tensor error: {e}"))
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
        for row in landmarks.chunks_exact(l) {
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
                let var = (s / n - (m / n).powi(2)).max(0.0);
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

    /// Raw rows to the network's inputs, with candle: (landmarks [n, l], flow [n, k]).
    pub fn apply(&self, landmarks: &Tensor, flow: &Tensor) -> Result<(Tensor, Tensor)> {
        let dev = &Device::Cpu;
        let v = |x: &[f32]| c(Tensor::from_slice(x, x.len(), dev));
        let (lm_mean, lm_std) = (v(&self.landmark_mean)?, v(&self.landmark_std)?);
        let lm = c(landmarks
            .broadcast_sub(&lm_mean)
            .and_then(|x| x.broadcast_div(&lm_std)))?;
        let f = self.flow_mean.len();
        let pca = c(Tensor::from_slice(
            &self.pca_matrix,
            (f, self.components),
            dev,
        ))?;
        let (fl_mean, pc_std) = (v(&self.flow_mean)?, v(&self.pca_std)?);
        let fl = c(flow
            .broadcast_sub(&fl_mean)
            .and_then(|x| x.matmul(&pca))
            .and_then(|x| x.broadcast_div(&pc_std)))?;
        Ok((lm, fl))
    }
}

/// A dense layer's values, candle's layout: weight [outputs, inputs].
#[derive(Clone, Debug)]
pub struct Dense {
    pub inputs: usize,
    pub outputs: usize,
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
}

#[derive(Clone, Debug)]
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
    pub landmarks: Tensor,
    pub flow: Tensor,
    pub labels: Vec<u32>,
}

struct Layer {
    weight: Var,
    bias: Var,
}

impl Layer {
    fn glorot(inputs: usize, outputs: usize, rng: &mut StdRng) -> Result<Self> {
        let limit = (6.0 / (inputs + outputs) as f64).sqrt() as f32;
        let w: Vec<f32> = (0..inputs * outputs)
            .map(|_| rng.random_range(-limit..limit))
            .collect();
        Ok(Self {
            weight: c(Var::from_vec(w, (outputs, inputs), &Device::Cpu))?,
            bias: c(Var::zeros(outputs, DType::F32, &Device::Cpu))?,
        })
    }

    fn forward(&self, x: &Tensor) -> Result<Tensor> {
        c(self
            .weight
            .as_tensor()
            .t()
            .and_then(|w| x.matmul(&w))
            .and_then(|y| y.broadcast_add(self.bias.as_tensor())))
    }

    fn values(&self) -> Result<Dense> {
        let (outputs, inputs) = c(self.weight.as_tensor().dims2())?;
        Ok(Dense {
            inputs,
            outputs,
            weight: c(self
                .weight
                .as_tensor()
                .flatten_all()
                .and_then(|t| t.to_vec1()))?,
            bias: c(self.bias.as_tensor().to_vec1())?,
        })
    }
}

struct Net {
    layers: [Layer; 6],
    dropout: f32,
}

impl Net {
    fn new(
        landmarks: usize,
        flow: usize,
        outputs: usize,
        cfg: &TrainConfig,
        rng: &mut StdRng,
    ) -> Result<Self> {
        Ok(Self {
            layers: [
                Layer::glorot(landmarks, 128, rng)?,
                Layer::glorot(128, 64, rng)?,
                Layer::glorot(flow, 128, rng)?,
                Layer::glorot(128, 64, rng)?,
                Layer::glorot(128, 64, rng)?,
                Layer::glorot(64, outputs, rng)?,
            ],
            dropout: cfg.dropout,
        })
    }

    fn vars(&self) -> Vec<Var> {
        self.layers
            .iter()
            .flat_map(|l| [l.weight.clone(), l.bias.clone()])
            .collect()
    }

    /// Dropout after each branch's first layer, in training only (`rng` given).
    fn drop(&self, x: Tensor, rng: Option<&mut StdRng>) -> Result<Tensor> {
        let Some(rng) = rng else { return Ok(x) };
        let keep = 1.0 - self.dropout;
        let mask: Vec<f32> = (0..x.elem_count())
            .map(|_| {
                if rng.random::<f32>() < keep {
                    1.0 / keep
                } else {
                    0.0
                }
            })
            .collect();
        let mask = c(Tensor::from_vec(mask, x.shape(), &Device::Cpu))?;
        c(x.mul(&mask))
    }

    fn logits(&self, lm: &Tensor, fl: &Tensor, mut rng: Option<&mut StdRng>) -> Result<Tensor> {
        let [l1, l2, f1, f2, head, out] = &self.layers;
        let a = self.drop(c(l1.forward(lm)?.relu())?, rng.as_deref_mut())?;
        let a = c(l2.forward(&a)?.relu())?;
        let b = self.drop(c(f1.forward(fl)?.relu())?, rng)?;
        let b = c(f2.forward(&b)?.relu())?;
        let fused = c(Tensor::cat(&[&a, &b], 1))?;
        let h = c(head.forward(&fused)?.relu())?;
        out.forward(&h)
    }

    fn weights(&self) -> Result<NetWeights> {
        let v: Vec<Dense> = self
            .layers
            .iter()
            .map(Layer::values)
            .collect::<Result<_>>()?;
        let mut v = v.into_iter();
        let mut next = || v.next().ok_or("layers missing".to_string());
        Ok(NetWeights {
            landmark1: next()?,
            landmark2: next()?,
            flow1: next()?,
            flow2: next()?,
            head: next()?,
            output: next()?,
        })
    }
}

/// Loss and probabilities [n, classes] for `logits`.
fn loss_and_probabilities(
    logits: &Tensor,
    labels: &[u32],
    classes: usize,
) -> Result<(Tensor, Tensor)> {
    let dev = &Device::Cpu;
    if classes == 2 {
        let z = c(logits.squeeze(1))?;
        let target: Vec<f32> = labels.iter().map(|&y| y as f32).collect();
        let target = c(Tensor::from_vec(target, labels.len(), dev))?;
        // max(z, 0) - z y + log(1 + exp(-|z|)): candle's binary_cross_entropy_with_logit takes
        // the log of a sigmoid that rounds to 0 or 1 in f32, giving inf and then NaN weights.
        let loss = c((|| {
            let softplus = z.abs()?.neg()?.exp()?.affine(1.0, 1.0)?.log()?;
            (z.relu()? - z.mul(&target)?)?.add(&softplus)?.mean_all()
        })())?;
        let p = c(candle_nn::ops::sigmoid(logits))?;
        let probabilities = c(Tensor::cat(&[&c(p.affine(-1.0, 1.0))?, &p], 1))?;
        Ok((loss, probabilities))
    } else {
        let target = c(Tensor::from_slice(labels, labels.len(), dev))?;
        let loss = c(candle_nn::loss::cross_entropy(logits, &target))?;
        let probabilities = c(candle_nn::ops::softmax(logits, D::Minus1))?;
        Ok((loss, probabilities))
    }
}

fn accuracy(probabilities: &Tensor, labels: &[u32]) -> Result<f64> {
    let predicted: Vec<u32> = c(probabilities.argmax(1).and_then(|t| t.to_vec1()))?;
    let right = predicted.iter().zip(labels).filter(|(p, y)| p == y).count();
    Ok(right as f64 / labels.len().max(1) as f64)
}

/// Trains the network on `train`, logging loss and accuracy per epoch (and on `validation`).
pub fn train(
    train: &Batch,
    validation: Option<&Batch>,
    classes: usize,
    cfg: &TrainConfig,
) -> Result<(NetWeights, Vec<EpochLog>)> {
    let mut rng = StdRng::seed_from_u64(cfg.seed);
    let (n, l) = c(train.landmarks.dims2())?;
    let (_, f) = c(train.flow.dims2())?;
    let outputs = if classes == 2 { 1 } else { classes };
    let net = Net::new(l, f, outputs, cfg, &mut rng)?;
    let params = ParamsAdamW {
        lr: cfg.learning_rate,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-7,
        weight_decay: 0.0,
    };
    let mut adam = c(AdamW::new(net.vars(), params))?;
    let mut order: Vec<u32> = (0..n as u32).collect();
    let mut log = Vec::with_capacity(cfg.epochs);
    for epoch in 1..=cfg.epochs {
        order.shuffle(&mut rng);
        let (mut loss_sum, mut right) = (0.0, 0.0);
        for chunk in order.chunks(cfg.batch_size.max(1)) {
            let idx = c(Tensor::from_slice(chunk, chunk.len(), &Device::Cpu))?;
            let lm = c(train.landmarks.index_select(&idx, 0))?;
            let fl = c(train.flow.index_select(&idx, 0))?;
            let labels: Vec<u32> = chunk.iter().map(|&i| train.labels[i as usize]).collect();
            let logits = net.logits(&lm, &fl, Some(&mut rng))?;
            let (loss, probabilities) = loss_and_probabilities(&logits, &labels, classes)?;
            c(adam.backward_step(&loss))?;
            loss_sum += c(loss.to_scalar::<f32>())? as f64 * chunk.len() as f64;
            right += accuracy(&probabilities, &labels)? * chunk.len() as f64;
        }
        let (validation_loss, validation_accuracy) = match validation {
            Some(v) => {
                let logits = net.logits(&v.landmarks, &v.flow, None)?;
                let (loss, p) = loss_and_probabilities(&logits, &v.labels, classes)?;
                (
                    Some(c(loss.to_scalar::<f32>())? as f64),
                    Some(accuracy(&p, &v.labels)?),
                )
            }
            None => (None, None),
        };
        log.push(EpochLog {
            epoch,
            train_loss: loss_sum / n as f64,
            train_accuracy: right / n as f64,
            validation_loss,
            validation_accuracy,
        });
    }
    Ok((net.weights()?, log))
}

impl Trained {
    /// Class probabilities of raw feature rows, computed with candle: what the ONNX graph
    /// must reproduce (the parity tests compare them).
    #[cfg_attr(not(test), allow(dead_code))]
    pub fn predict(&self, landmarks: &Tensor, flow: &Tensor) -> Result<Vec<Vec<f32>>> {
        let (lm, fl) = self.preprocess.apply(landmarks, flow)?;
        self.predict_standardised(&lm, &fl)
    }

    pub fn predict_standardised(&self, lm: &Tensor, fl: &Tensor) -> Result<Vec<Vec<f32>>> {
        let dense = |d: &Dense| -> Result<Layer> {
            Ok(Layer {
                weight: c(Var::from_slice(
                    &d.weight,
                    (d.outputs, d.inputs),
                    &Device::Cpu,
                ))?,
                bias: c(Var::from_slice(&d.bias, d.outputs, &Device::Cpu))?,
            })
        };
        let w = &self.net;
        let net = Net {
            layers: [
                dense(&w.landmark1)?,
                dense(&w.landmark2)?,
                dense(&w.flow1)?,
                dense(&w.flow2)?,
                dense(&w.head)?,
                dense(&w.output)?,
            ],
            dropout: 0.0,
        };
        let logits = net.logits(lm, fl, None)?;
        let n = c(logits.dim(0))?;
        let (_, p) = loss_and_probabilities(&logits, &vec![0; n], self.labels.len())?;
        c(p.to_vec2())
    }
}
