//! Native/circuit agreement on a real Datanet: records signed, imported and sealed through the service, then
//! the version's root recomputed inside a halo2-base circuit (MockProver) from the stored items.
#![allow(clippy::unwrap_used)] // test and bench code: a panic is the failure report

use zkattr_circuits::{
    field::{self, Fr},
    halo2::{
        halo2_base::{
            gates::{circuit::builder::BaseCircuitBuilder, GateChip},
            halo2_proofs::dev::MockProver,
        },
        merkle::{index_constant, leaf_hash, merkle_root, poseidon_hasher},
    },
};
use zkattr_service::datanet::{record::test_key, Content, Datanets, ImportOptions, Record};

const K: u32 = 15;

/// Proves "these items hash to `root`" with MockProver; true when every constraint holds.
fn circuit_accepts(items: &[(Fr, Fr)], root: Fr) -> bool {
    let mut builder = BaseCircuitBuilder::<Fr>::new(false)
        .use_k(K as usize)
        .use_lookup_bits(8)
        .use_instance_columns(1);
    let gate = GateChip::<Fr>::default();
    let ctx = builder.main(0);
    let mut hasher = poseidon_hasher(ctx, &gate);
    let leaves: Vec<_> = items
        .iter()
        .enumerate()
        .map(|(i, (c, h))| {
            let c = ctx.load_witness(*c);
            let h = ctx.load_witness(*h);
            let idx = index_constant(ctx, i as u64);
            leaf_hash(ctx, &gate, &mut hasher, c, h, idx)
        })
        .collect();
    let out = merkle_root(ctx, &gate, &mut hasher, &leaves).unwrap();
    builder.assigned_instances[0].push(out);
    builder.calculate_params(Some(9));
    MockProver::run(K, &builder, vec![vec![root]])
        .unwrap()
        .verify()
        .is_ok()
}

#[test]
fn sealed_root_is_recomputed_in_circuit() {
    let home = tempfile::tempdir().unwrap();
    let mut nets = Datanets::open(home.path()).unwrap();
    nets.create("small").unwrap();
    let lines: String = (0..11u32)
        .map(|i| {
            let key = test_key(&format!("contributor {}", i % 4));
            let content = if i % 2 == 0 {
                Content::Features(vec![i as i32, -(i as i32), 16])
            } else {
                Content::Text(format!("record {i}"))
            };
            Record::sign(&key, content, &(i % 10).to_string(), "CC-BY-4.0").to_json() + "\n"
        })
        .collect();
    nets.import(
        "small",
        lines.as_bytes(),
        "inline",
        ImportOptions::default(),
        &mut |_| {},
    )
    .unwrap();
    let sealed = nets.seal("small").unwrap();
    let root = field::from_hex(&sealed.root).unwrap();
    let items = nets.leaf_inputs("small", sealed.version).unwrap();
    assert_eq!(items.len(), 11);

    assert!(
        circuit_accepts(&items, root),
        "the circuit disagrees with the sealed root"
    );

    // The same items in another order, or with one contributor swapped, do not reach the sealed root.
    let mut swapped = items.clone();
    swapped.swap(2, 3);
    assert!(!circuit_accepts(&swapped, root));
    let mut other = items.clone();
    other[5].0 = items[6].0 + Fr::from(1u64);
    assert!(!circuit_accepts(&other, root));
}
