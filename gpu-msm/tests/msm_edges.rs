//! Every MSM backend of this build and machine against arkworks (an independent implementation) on edge
//! inputs: nothing, zero scalars, identity bases, P and -P, repeated points, the scalars 1, 2 and -1, sizes
//! either side of the GPU threshold and not powers of two. The CUDA backend, and its MSMs over bases kept on
//! the device, are checked when this build has it and a device is present; otherwise the reason is printed.
#![allow(clippy::unwrap_used)] // test code: a panic is the failure report

use ark_ec::{CurveGroup, VariableBaseMSM};
use ark_ff::PrimeField;
use halo2_axiom::halo2curves::{
    ff::{Field, PrimeField as _},
    group::{prime::PrimeCurveAffine, Curve},
    CurveAffine,
};
use zkattr_gpu_msm::{
    sample_msm_input, select, BackendChoice, BackendError, BackendKind, CpuMsm, CudaMsm, Fr,
    G1Affine, MsmBackend, BUILT_WITH_CUDA, GPU_MSM_THRESHOLD,
};

fn ark_fr(x: &Fr) -> ark_bn254::Fr {
    ark_bn254::Fr::from_le_bytes_mod_order(x.to_repr().as_ref())
}

fn ark_point(p: &G1Affine) -> ark_bn254::G1Affine {
    if bool::from(p.is_identity()) {
        return ark_bn254::G1Affine::identity();
    }
    let c = p.coordinates().unwrap();
    let fq = |x: &halo2_axiom::halo2curves::bn256::Fq| {
        ark_bn254::Fq::from_le_bytes_mod_order(x.to_repr().as_ref())
    };
    let q = ark_bn254::G1Affine::new_unchecked(fq(c.x()), fq(c.y()));
    assert!(q.is_on_curve());
    q
}

fn reference(scalars: &[Fr], bases: &[G1Affine]) -> ark_bn254::G1Affine {
    let s: Vec<ark_bn254::Fr> = scalars.iter().map(ark_fr).collect();
    let b: Vec<ark_bn254::G1Affine> = bases.iter().map(ark_point).collect();
    ark_bn254::G1Projective::msm(&b, &s).unwrap().into_affine()
}

/// The named cases, each `(name, scalars, bases)`.
fn cases() -> Vec<(String, Vec<Fr>, Vec<G1Affine>)> {
    let mut out = Vec::new();
    out.push(("nothing".into(), vec![], vec![]));
    // Below and above the size where the CPU MSM switches to batched affine additions.
    for n in [300, GPU_MSM_THRESHOLD + 2] {
        let (s, b) = sample_msm_input(n, n as u64 + 1);
        out.push((format!("{n} zero scalars"), vec![Fr::ZERO; n], b.clone()));
        out.push((
            format!("{n} identity bases"),
            s.clone(),
            vec![G1Affine::identity(); n],
        ));
        // P and -P with the same scalar cancel.
        let mut s2 = s.clone();
        let mut b2 = b.clone();
        for i in (0..n).step_by(2) {
            b2[i + 1] = -b2[i];
            s2[i + 1] = s2[i];
        }
        out.push((format!("{n}: P and -P"), s2, b2));
        let mut b3 = b.clone();
        for i in 1..n {
            b3[i] = b3[0];
        }
        out.push((format!("{n}: one point repeated"), s.clone(), b3));
        out.push((
            format!("{n}: one point, one scalar"),
            vec![s[0]; n],
            vec![b[0]; n],
        ));
    }
    let (_, b) = sample_msm_input(300, 1);
    let small: Vec<Fr> = (0..300)
        .map(|i| match i % 4 {
            0 => Fr::ONE,
            1 => Fr::from(2),
            2 => -Fr::ONE,
            _ => Fr::ZERO,
        })
        .collect();
    out.push(("scalars 1, 2, -1, 0".into(), small, b));
    for n in [
        1,
        3,
        1000,
        12_345,
        GPU_MSM_THRESHOLD - 1,
        GPU_MSM_THRESHOLD,
        GPU_MSM_THRESHOLD + 1,
        (1 << 16) + 7,
    ] {
        let (s, b) = sample_msm_input(n, n as u64);
        out.push((format!("{n} random"), s, b));
    }
    // Mixed: zeros and identities sprinkled over a size above the threshold.
    let (mut s, mut b) = sample_msm_input(GPU_MSM_THRESHOLD + 3, 7);
    for i in (0..s.len()).step_by(5) {
        s[i] = Fr::ZERO;
    }
    for i in (0..b.len()).step_by(7) {
        b[i] = G1Affine::identity();
    }
    out.push(("zeros and identities above the threshold".into(), s, b));
    out
}

/// The CUDA MSM backend, or `None` with the reason printed; a failure instead when `ZKATTR_REQUIRE_GPU` is set
/// (scripts/gpu-figures.sh sets it, so that a GPU machine's run cannot pass by skipping).
fn cuda(what: &str) -> Option<CudaMsm> {
    let reason = match select(BackendChoice::Cuda, 0) {
        Ok(s) if s.kind == BackendKind::Cuda => {
            return Some(CudaMsm::new(s.device.unwrap()).unwrap())
        }
        Ok(s) => s.reason,
        Err(e) => e.to_string(),
    };
    assert!(
        std::env::var_os("ZKATTR_REQUIRE_GPU").is_none(),
        "ZKATTR_REQUIRE_GPU is set, but {what} cannot be checked: {reason}"
    );
    println!("{what} not checked: {reason}");
    None
}

fn backends() -> Vec<Box<dyn MsmBackend>> {
    let mut v: Vec<Box<dyn MsmBackend>> = vec![Box::new(CpuMsm)];
    if let Some(g) = cuda("CUDA MSM") {
        v.push(Box::new(g));
    }
    v
}

#[test]
fn every_backend_agrees_with_arkworks_on_edge_inputs() {
    let cases = cases();
    for backend in backends() {
        for (name, s, b) in &cases {
            let got = backend.msm(s, b).unwrap().to_affine();
            assert_eq!(
                ark_point(&got),
                reference(s, b),
                "{:?}: {name}",
                backend.kind()
            );
        }
    }
}

/// The MSMs over bases kept on the GPU (as an SRS's are) against arkworks: every case without identity
/// bases, with the scalars copied per call and already on the device, and over a prefix of longer bases; an
/// identity base and more scalars than bases are refused.
#[test]
fn device_bases_agree_with_arkworks() {
    let Some(g) = cuda("CUDA device bases") else {
        return;
    };
    let identity = |b: &G1Affine| bool::from(b.is_identity());
    for (name, s, b) in cases() {
        if b.iter().any(identity) {
            assert!(
                matches!(g.upload_bases(&b), Err(BackendError::BadInput(m)) if m.contains("identity")),
                "{name}"
            );
            continue;
        }
        let bases = g.upload_bases(&b).unwrap();
        let want = reference(&s, &b);
        let fixed = g.msm_fixed(&s, &bases).unwrap().to_affine();
        assert_eq!(ark_point(&fixed), want, "scalars copied per call: {name}");
        let scalars = g.upload_scalars(&s).unwrap();
        let device = g.msm_device(&scalars, &bases).unwrap().to_affine();
        assert_eq!(ark_point(&device), want, "scalars on the device: {name}");
    }
    // Fewer scalars than bases: the first bases, on the GPU and (below the threshold) on the CPU.
    let (s, b) = sample_msm_input(GPU_MSM_THRESHOLD + 100, 11);
    let bases = g.upload_bases(&b).unwrap();
    for m in [0, 100, GPU_MSM_THRESHOLD - 1, GPU_MSM_THRESHOLD + 37] {
        let want = reference(&s[..m], &b[..m]);
        let fixed = g.msm_fixed(&s[..m], &bases).unwrap().to_affine();
        assert_eq!(ark_point(&fixed), want, "{m} scalars copied per call");
        let scalars = g.upload_scalars(&s[..m]).unwrap();
        let device = g.msm_device(&scalars, &bases).unwrap().to_affine();
        assert_eq!(ark_point(&device), want, "{m} scalars on the device");
    }
    let (more, _) = sample_msm_input(b.len() + 1, 12);
    assert!(matches!(
        g.msm_fixed(&more, &bases),
        Err(BackendError::BadInput(m)) if m.contains("scalars for")
    ));
    let more = g.upload_scalars(&more).unwrap();
    assert!(matches!(
        g.msm_device(&more, &bases),
        Err(BackendError::BadInput(m)) if m.contains("scalars for")
    ));
}

#[test]
fn unequal_lengths_are_refused() {
    let (s, b) = sample_msm_input(10, 3);
    for backend in backends() {
        assert!(matches!(
            backend.msm(&s[..9], &b),
            Err(BackendError::BadInput(m)) if m.contains("9 scalars for 10 bases")
        ));
    }
}

#[test]
fn without_the_feature_the_cuda_backend_says_so() {
    if BUILT_WITH_CUDA {
        println!("built with CUDA: the stub is not in this build");
        return;
    }
    let device = zkattr_gpu_msm::DeviceInfo {
        ordinal: 0,
        name: "any".into(),
        total_memory: 1 << 36,
        compute_capability: (9, 0),
    };
    assert_eq!(
        CudaMsm::new(device.clone()).unwrap_err(),
        BackendError::NotBuilt
    );
    assert_eq!(
        zkattr_gpu_msm::CudaProver::new(device).unwrap_err(),
        BackendError::NotBuilt
    );
    assert!(zkattr_gpu_msm::probe_devices()
        .unwrap_err()
        .contains("built without CUDA support"));
    assert_eq!(select(BackendChoice::Cuda, 0), Err(BackendError::NotBuilt));
    let auto = select(BackendChoice::Auto, 0).unwrap();
    assert_eq!(auto.kind, BackendKind::Cpu);
    assert!(BackendError::NotBuilt
        .to_string()
        .contains("scripts/build-cuda.sh"));
}
