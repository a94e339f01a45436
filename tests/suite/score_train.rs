//! Training on the GPU: Adam against its definition, one whole training
//! step (gather, GPU t and noise, DSM loss and gradient) against the f64
//! reference, micro-batches adding up to the batch, and checkpoints.

use std::collections::HashMap;

use diffclosure::data::dataset::Samples;
use diffclosure::gpu::{DType, Tensor};
use diffclosure::score::adam::Adam;
use diffclosure::score::checkpoint;
use diffclosure::score::model::ScoreFno;
use diffclosure::score::train::{TrainConfig, Trainer};
use diffclosure::score::ScoreConfig;

use crate::reference::f64s;
use crate::reference::score as cpu;
use crate::{gpu, test_data, tiny_config};

/// Three Adam steps against torch.optim.Adam's update written out in f64,
/// on the range [64, len) (the first 64 entries must stay untouched).
/// f32 state: the relative error of one update is a few u; 1e-6 of the
/// parameter scale leaves room and catches a wrong bias correction (~10%).
#[test]
fn adam_matches_its_definition() {
    let g = gpu();
    let len = 640;
    let p0 = test_data(31, len);
    let params = Tensor::from_f32(g, &[len], DType::F32, &p0).unwrap();
    let mut adam = Adam::new(g, len, 64).unwrap();
    let (mut p, mut m, mut v) = (f64s(&p0), vec![0.0; len], vec![0.0; len]);
    let (lr, b1, b2, eps) = (1e-2, 0.9, 0.999, 1e-8);
    for k in 1..=3 {
        let gr = test_data(40 + k as u64, len);
        let grads = Tensor::from_f32(g, &[len], DType::F32, &gr).unwrap();
        crate::in_one_pass("adam", |pass| {
            adam.record_step(g, pass, &params, &grads, lr).unwrap();
        });
        for i in 64..len {
            let gi = f64::from(gr[i]);
            m[i] = b1 * m[i] + (1.0 - b1) * gi;
            v[i] = b2 * v[i] + (1.0 - b2) * gi * gi;
            let (mh, vh) = (m[i] / (1.0 - b1.powi(k)), v[i] / (1.0 - b2.powi(k)));
            p[i] -= lr * mh / (vh.sqrt() + eps);
        }
    }
    let got = g.read_one(&params).unwrap();
    assert_eq!(got[..64], p0[..64], "entries before the range changed");
    let err = crate::max_abs_err(&got, &p);
    assert!(err < 1e-6, "Adam: {err:.2e}");
}

/// A synthetic dataset of `len` samples on a 16² grid with 4×4 sensors.
fn tiny_data(len: usize) -> Samples {
    let (n, s) = (16, 4);
    Samples {
        grid: n,
        sensors: s,
        len,
        omega: test_data(51, len * n * n),
        target: test_data(52, len * n * n).iter().map(|v| 0.3 * v).collect(),
        obs: test_data(53, len * s * s),
        meta: HashMap::new(),
    }
}

/// The tiny network's parameters as the reference initialises them from
/// `seed`, in f32.
fn reference_init(seed: u64) -> Vec<f32> {
    cpu::init_params(&tiny_config(), seed)
        .iter()
        .map(|&v| v as f32)
        .collect()
}

/// A trainer of the tiny network from `params0` on `data` after one step
/// of a batch of 4 in micro-batches of `micro_batch`, drawn with `seed`.
fn trained_one_step(data: &Samples, params0: &[f32], micro_batch: usize, seed: u64) -> Trainer {
    let tcfg = TrainConfig {
        batch: 4,
        micro_batch: Some(micro_batch),
        seed,
        ..TrainConfig::default()
    };
    let model = ScoreFno::new(&tiny_config()).unwrap();
    let mut tr = Trainer::new(gpu(), model, params0, data, tcfg, None).unwrap();
    tr.step().unwrap();
    tr
}

/// One step of the trainer against the reference DSM loss on the same
/// batch, t and noise (read back): the loss, every gradient, and the
/// update (Adam on the GPU gradient, 1e-6). Gradients: 2e-5 of max(own
/// max, 1e-5 × the largest gradient) — the metric of
/// `score_network_matches_reference` with a 10× higher floor, because the
/// DSM gradient feeds unit noise at every point into the backward (larger
/// flows than there): the sparse pipeline's high negative modes, 8e-7 of
/// the largest gradient, are off by 7e-11 of it (1e-4 of their own max).
/// The batch is the shuffled order's first 4 samples of 12.
#[test]
fn training_step_matches_reference() {
    let cfg = tiny_config();
    let data = tiny_data(12);
    let params0 = reference_init(3);
    let tr = trained_one_step(&data, &params0, 4, 9);
    let (idx, t, z) = tr.last_batch().unwrap();
    let mut sorted = idx.clone();
    sorted.sort_unstable();
    sorted.dedup();
    assert!(sorted.len() == 4 && sorted[3] < 12, "indices {idx:?}");
    assert!(t.iter().all(|&t| (1e-5..=1.0).contains(&t)), "t {t:?}");
    let (n, s) = (data.grid, data.sensors);
    let pick = |v: &[f32], k: usize| -> Vec<f64> {
        idx.iter()
            .flat_map(|&i| v[i as usize * k..(i as usize + 1) * k].iter())
            .map(|&x| f64::from(x))
            .collect()
    };
    let (loss_ref, grads_ref) = cpu::dsm_loss(
        &cfg,
        &f64s(&params0),
        &pick(&data.target, n * n),
        &pick(&data.omega, n * n),
        &pick(&data.obs, s * s),
        &f64s(&t),
        &f64s(&z),
    );
    let loss = tr.loss().unwrap();
    // The loss is a sum of 4·256 squares of O(1): f32 rounding ~1e-6.
    assert!(
        (loss - loss_ref).abs() < 1e-5 * loss_ref,
        "loss {loss} vs {loss_ref}"
    );
    let gp = tr.read_grads().unwrap();
    let model = ScoreFno::new(&cfg).unwrap();
    crate::score_kernels::assert_gradients("step", model.params(), &gp, &grads_ref.params, 1e-5);
    // The update: Adam's first step moves each trainable entry by
    // lr · g/(|g| + ε).
    let (p1, _, _) = tr.read_state().unwrap();
    let first = cfg.params()[1].offset;
    for i in first..p1.len() {
        let gi = f64::from(gp[i]);
        let want = f64::from(params0[i]) - 1e-3 * gi / (gi.abs() + 1e-8);
        assert!(
            (f64::from(p1[i]) - want).abs() < 1e-6,
            "parameter {i}: {} vs {want}",
            p1[i]
        );
    }
    assert_eq!(p1[..first], params0[..first], "t_feat.W is fixed");
}

/// Micro-batches add up to the batch: the same step with micro-batches of
/// 1 and 4 gives the same loss and gradients (the numbers drawn do not
/// depend on the split; only the f32 summation order does: 1e-5).
#[test]
fn micro_batches_add_up() {
    let g = gpu();
    let cfg = tiny_config();
    let data = tiny_data(8);
    let params0 = reference_init(4);
    let run = |mb: usize| {
        let tr = trained_one_step(&data, &params0, mb, 5);
        (tr.loss().unwrap(), tr.read_grads().unwrap())
    };
    let ((l1, g1), (l4, g4)) = (run(1), run(4));
    assert!((l1 - l4).abs() < 1e-5 * l4, "loss {l1} vs {l4}");
    let scale = g4.iter().fold(0f32, |a, v| a.max(v.abs()));
    let err = g1
        .iter()
        .zip(&g4)
        .fold(0f32, |a, (x, y)| a.max((x - y).abs()));
    assert!(
        err < 1e-5 * scale,
        "gradients differ by {err:.2e} of {scale:.2e}"
    );
    let bad = TrainConfig {
        batch: 4,
        micro_batch: Some(3),
        ..TrainConfig::default()
    };
    assert!(Trainer::new(g, ScoreFno::new(&cfg).unwrap(), &params0, &data, bad, None).is_err());
}

/// Checkpoints round-trip every tensor and the optimizer state, use the
/// PyTorch names and shapes, and refuse truncated files, another config's
/// file and non-finite parameters.
#[test]
fn checkpoints_round_trip_and_refuse_bad_files() {
    let cfg = tiny_config();
    let dir = std::env::temp_dir().join(format!("diffclosure-ckpt-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("m.safetensors");
    let len = cfg.flat_len();
    let mut p = test_data(61, len);
    let (m, v) = (test_data(62, len), test_data(63, len));
    // Padding entries are not saved: zero them so the round trip is exact.
    let mut keep = vec![false; len];
    for s in cfg.params() {
        keep[s.offset..s.offset + s.len()].fill(true);
    }
    let zero_pad = |x: &[f32]| -> Vec<f32> {
        x.iter()
            .zip(&keep)
            .map(|(v, k)| if *k { *v } else { 0.0 })
            .collect()
    };
    p = zero_pad(&p);
    let meta = HashMap::from([("train.step".to_string(), "7".to_string())]);
    checkpoint::save(&path, &cfg, &p, Some((&m, &v)), &meta).unwrap();
    let ck = checkpoint::load(&path).unwrap();
    assert_eq!(ck.config, cfg);
    assert_eq!(ck.params, p);
    let fixed: Vec<bool> = (0..len)
        .map(|i| {
            cfg.params()
                .iter()
                .any(|s| !s.trainable && (s.offset..s.offset + s.len()).contains(&i))
        })
        .collect();
    let moments = |x: &[f32]| -> Vec<f32> {
        zero_pad(x)
            .iter()
            .zip(&fixed)
            .map(|(v, f)| if *f { 0.0 } else { *v })
            .collect()
    };
    let (cm, cv) = ck.optimizer.clone().unwrap();
    assert_eq!((cm, cv), (moments(&m), moments(&v)));
    assert_eq!(ck.get::<u64>(&path, "train.step").unwrap(), 7);
    // Names and shapes are the PyTorch module's.
    let f = diffclosure::data::io::read(&path).unwrap();
    assert_eq!(
        f.get(&path, "fno_x.spec.0.w_pos").unwrap().shape,
        vec![4, 4, 4, 4, 2]
    );
    assert_eq!(
        f.get(&path, "fuse1.weight").unwrap().shape,
        vec![8, 12, 1, 1]
    );
    assert_eq!(f.get(&path, "fc2.bias").unwrap().shape, vec![1]);
    // Truncated.
    let bytes = std::fs::read(&path).unwrap();
    let cut = dir.join("cut.safetensors");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).unwrap();
    let e = checkpoint::load(&cut).unwrap_err().to_string();
    assert!(e.contains("not a valid safetensors"), "{e}");
    // Another configuration's file under this config's name: the loader
    // reads the config from the file, so compare what a caller would.
    let other = ScoreConfig {
        width: 5,
        ..cfg.clone()
    };
    let p5 = vec![0.0; other.flat_len()];
    let path5 = dir.join("w5.safetensors");
    checkpoint::save(&path5, &other, &p5, None, &HashMap::new()).unwrap();
    assert_ne!(checkpoint::load(&path5).unwrap().config, cfg);
    // Wrong vector length is refused on save; NaN on load.
    assert!(checkpoint::save(&path5, &other, &p, None, &HashMap::new()).is_err());
    let mut pn = p.clone();
    pn[cfg.params()[3].offset] = f32::NAN;
    let nan = dir.join("nan.safetensors");
    checkpoint::save(&nan, &cfg, &pn, None, &HashMap::new()).unwrap();
    let e = checkpoint::load(&nan).unwrap_err().to_string();
    assert!(e.contains("non-finite"), "{e}");
}

/// The reference sizes (width 20, modes 8, 4 layers, embed 256, fc 128,
/// 16×16 sensors) train at 64² batch 32: every scratch buffer fits the
/// adapter's binding limit (the weight-gradient scratch once did not: it
/// was sized for every layer at every point count), and the loss is
/// finite.
#[test]
fn reference_sizes_train_at_batch_32() {
    let g = gpu();
    let cfg = ScoreConfig::default();
    let (n, s, len) = (64, 16, 32);
    let data = Samples {
        grid: n,
        sensors: s,
        len,
        omega: test_data(91, len * n * n),
        target: test_data(92, len * n * n),
        obs: test_data(93, len * s * s),
        meta: HashMap::new(),
    };
    let params = diffclosure::score::init::init_params(&cfg, 2);
    let tcfg = TrainConfig {
        batch: 32,
        ..TrainConfig::default()
    };
    let mut tr = Trainer::new(g, ScoreFno::new(&cfg).unwrap(), &params, &data, tcfg, None).unwrap();
    tr.step().unwrap();
    let loss = tr.loss().unwrap();
    assert!(loss.is_finite() && loss > 0.0, "loss {loss}");
}
