// SPDX-License-Identifier: MPL-2.0

//! Flow features of several frame pairs at once. One Farneback call uses one core, but the
//! pairs (t-1, t) and (t, t+1) are independent, so worker threads computing consecutive
//! pairs give the same results as one thread, faster, at the cost of holding frames back.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::thread;

use opencv::core::Mat;

use super::dense::{DenseFlow, FlowField};
use super::gray::{GrayImage, PixelRect};
use super::method::FlowMethod;
use super::stats::{FlowSummary, pool_average, summarize};
use super::warp::SquareWarper;
use crate::mesh::Roi;

/// Where in the two frames the flow is measured.
#[derive(Clone, Debug, PartialEq)]
pub enum FlowTarget {
    /// The same pixel rectangle of both frames, at the frame's resolution.
    Rect(PixelRect),
    /// One `size` x `size` face-aligned square per face, resampled from each frame.
    Faces { size: usize, faces: Vec<FacePair> },
}

/// The ROIs one face is sampled with in the previous and in the next frame.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FacePair {
    pub prev: Roi,
    pub next: Roi,
}

/// One frame pair to analyse.
#[derive(Clone)]
pub struct FlowRequest {
    pub prev: Arc<GrayImage>,
    pub next: Arc<GrayImage>,
    pub target: FlowTarget,
    pub method: FlowMethod,
    pub grid_width: usize,
    pub grid_height: usize,
}

/// What the elements publish of one flow field.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowFeatures {
    pub summary: FlowSummary,
    /// Row-major `grid_width` x `grid_height` mean magnitudes.
    pub grid: Vec<f32>,
}

/// Reusable per-thread buffers.
#[derive(Default)]
pub struct FlowWorkspace {
    flow: DenseFlow,
    warper: SquareWarper,
    prev_square: Mat,
    next_square: Mat,
    scratch: Vec<f32>,
}

impl FlowWorkspace {
    /// The features of each region of `request`: one for a rectangle, one per face.
    pub fn compute(&mut self, request: &FlowRequest) -> Result<Vec<FlowFeatures>, String> {
        let features = |field: FlowField<'_>, scratch: &mut Vec<f32>| {
            let mut grid = Vec::with_capacity(request.grid_width * request.grid_height);
            pool_average(
                field.magnitude,
                field.width,
                field.height,
                request.grid_width,
                request.grid_height,
                &mut grid,
            );
            let summary = summarize(field.magnitude, field.flow_xy, scratch);
            FlowFeatures { summary, grid }
        };
        match &request.target {
            FlowTarget::Rect(rect) => {
                let field = self
                    .flow
                    .compute(&request.prev, &request.next, *rect, &request.method)
                    .map_err(|err| err.to_string())?;
                Ok(vec![features(field, &mut self.scratch)])
            }
            FlowTarget::Faces { size, faces } => {
                let mut out = Vec::with_capacity(faces.len());
                for pair in faces {
                    self.warper
                        .warp(&request.prev, &pair.prev, *size, &mut self.prev_square)
                        .and_then(|()| {
                            self.warper.warp(
                                &request.next,
                                &pair.next,
                                *size,
                                &mut self.next_square,
                            )
                        })
                        .map_err(|err| format!("face square: {err}"))?;
                    let field = self
                        .flow
                        .compute_mats(&self.prev_square, &self.next_square, &request.method)
                        .map_err(|err| err.to_string())?;
                    out.push(features(field, &mut self.scratch));
                }
                Ok(out)
            }
        }
    }
}

type Reply = mpsc::SyncSender<Result<Vec<FlowFeatures>, String>>;

/// The result of a submitted request, to wait for.
pub struct PendingFlow(mpsc::Receiver<Result<Vec<FlowFeatures>, String>>);

impl PendingFlow {
    pub fn wait(self) -> Result<Vec<FlowFeatures>, String> {
        self.0
            .recv()
            .unwrap_or_else(|_| Err("flow worker stopped".to_string()))
    }
}

/// Worker threads, each with its own OpenCV buffers.
pub struct FlowPool {
    jobs: Option<mpsc::Sender<(FlowRequest, Reply)>>,
    workers: Vec<thread::JoinHandle<()>>,
}

type Compute = fn(&mut FlowWorkspace, &FlowRequest) -> Result<Vec<FlowFeatures>, String>;

impl FlowPool {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        Self::with_compute(threads, FlowWorkspace::compute)
    }

    fn with_compute(threads: usize, compute: Compute) -> std::io::Result<Self> {
        let (jobs, queue) = mpsc::channel::<(FlowRequest, Reply)>();
        let queue = Arc::new(Mutex::new(queue));
        let mut workers = Vec::new();
        for i in 0..threads.max(1) {
            let queue = queue.clone();
            workers.push(
                thread::Builder::new()
                    .name(format!("alsflow-{i}"))
                    .spawn(move || {
                        let mut workspace = FlowWorkspace::default();
                        loop {
                            let job = queue.lock().map(|q| q.recv());
                            let Ok(Ok((request, reply))) = job else {
                                return;
                            };
                            // A panic in OpenCV or in our code must not kill the worker
                            // silently: it becomes this request's error, and the workspace,
                            // whose buffers may be half written, is replaced.
                            let result = catch_unwind(AssertUnwindSafe(|| {
                                compute(&mut workspace, &request)
                            }))
                            .unwrap_or_else(|panic| {
                                workspace = FlowWorkspace::default();
                                Err(format!("flow worker panicked: {}", panic_text(&panic)))
                            });
                            // The requester may have gone (a flush); nothing to tell then.
                            let _ = reply.send(result);
                        }
                    })?,
            );
        }
        Ok(Self {
            jobs: Some(jobs),
            workers,
        })
    }

    pub fn threads(&self) -> usize {
        self.workers.len()
    }

    pub fn submit(&self, request: FlowRequest) -> PendingFlow {
        let (reply, result) = mpsc::sync_channel(1);
        if let Some(jobs) = &self.jobs {
            // A failed send drops `reply`, and `wait` reports the stopped worker.
            let _ = jobs.send((request, reply));
        }
        PendingFlow(result)
    }
}

fn panic_text(panic: &Box<dyn std::any::Any + Send>) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

impl Drop for FlowPool {
    fn drop(&mut self) {
        self.jobs = None;
        for worker in self.workers.drain(..) {
            let _ = worker.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn image(width: usize, height: usize, shift: f32) -> Arc<GrayImage> {
        let data = (0..width * height)
            .map(|i| {
                let (x, y) = ((i % width) as f32 - shift, (i / width) as f32);
                (128.0 + 60.0 * (x * 0.2).sin() * (y * 0.15).cos()) as u8
            })
            .collect();
        Arc::new(GrayImage::from_vec(width, height, data).unwrap())
    }

    fn requests() -> Vec<FlowRequest> {
        let frames: Vec<_> = (0..6).map(|i| image(80, 60, i as f32 * 0.8)).collect();
        frames
            .windows(2)
            .map(|pair| FlowRequest {
                prev: pair[0].clone(),
                next: pair[1].clone(),
                target: FlowTarget::Rect(PixelRect::full(80, 60)),
                method: FlowMethod::default(),
                grid_width: 4,
                grid_height: 3,
            })
            .collect()
    }

    #[test]
    fn workers_give_the_single_thread_results_in_order() {
        let serial: Vec<_> = requests()
            .iter()
            .map(|r| FlowWorkspace::default().compute(r).unwrap())
            .collect();
        let pool = FlowPool::new(3).unwrap();
        assert_eq!(pool.threads(), 3);
        let pending: Vec<_> = requests().into_iter().map(|r| pool.submit(r)).collect();
        let parallel: Vec<_> = pending.into_iter().map(|p| p.wait().unwrap()).collect();
        assert_eq!(parallel, serial);
        assert!(
            serial
                .iter()
                .all(|f| f.len() == 1 && f[0].summary.mean > 0.3 && f[0].grid.len() == 12)
        );
    }

    #[test]
    fn abandoned_results_do_not_block_the_pool() {
        let pool = FlowPool::new(1).unwrap();
        for r in requests() {
            drop(pool.submit(r));
        }
        let r = requests().remove(0);
        assert!(pool.submit(r).wait().is_ok());
    }

    #[test]
    fn a_bad_request_is_an_error_not_a_panic() {
        let pool = FlowPool::new(1).unwrap();
        let mut r = requests().remove(0);
        r.target = FlowTarget::Rect(PixelRect {
            x: 70,
            y: 0,
            width: 20,
            height: 10,
        });
        assert!(pool.submit(r).wait().is_err());
    }

    #[test]
    fn a_panicking_request_is_an_error_and_the_worker_lives_on() {
        fn explode(_: &mut FlowWorkspace, r: &FlowRequest) -> Result<Vec<FlowFeatures>, String> {
            if r.grid_width == 99 {
                panic!("boom");
            }
            FlowWorkspace::default().compute(r)
        }
        let pool = FlowPool::with_compute(1, explode).unwrap();
        let mut bad = requests().remove(0);
        bad.grid_width = 99;
        let err = pool.submit(bad).wait().unwrap_err();
        assert!(err.contains("panicked: boom"), "{err}");
        assert!(pool.submit(requests().remove(0)).wait().is_ok());
    }

    #[test]
    fn every_face_gets_its_own_square() {
        let frames: Vec<_> = (0..2).map(|i| image(200, 120, i as f32 * 2.0)).collect();
        let roi = |cx: f64, size: f64| Roi {
            cx,
            cy: 60.0,
            size,
            rotation: 0.0,
        };
        let request = FlowRequest {
            prev: frames[0].clone(),
            next: frames[1].clone(),
            target: FlowTarget::Faces {
                size: 40,
                faces: vec![
                    FacePair {
                        prev: roi(50.0, 40.0),
                        next: roi(50.0, 40.0),
                    },
                    // Twice the size: the same 2-pixel shift is half as many square pixels.
                    FacePair {
                        prev: roi(140.0, 80.0),
                        next: roi(140.0, 80.0),
                    },
                ],
            },
            method: FlowMethod::default(),
            grid_width: 4,
            grid_height: 4,
        };
        let f = FlowWorkspace::default().compute(&request).unwrap();
        assert_eq!(f.len(), 2);
        let centre =
            |f: &FlowFeatures| f.grid[5..7].iter().chain(&f.grid[9..11]).sum::<f32>() / 4.0;
        let (small, large) = (centre(&f[0]), centre(&f[1]));
        assert!((small - 2.0).abs() < 0.3, "{small}");
        assert!((large - 1.0).abs() < 0.2, "{large}");
    }
}
