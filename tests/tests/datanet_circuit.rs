//! Native/circuit agreement on a real Datanet: records signed, imported and sealed through the service, then
//! the version's root recomputed inside the circuit (MockProver) from the stored items.
#![allow(clippy::unwrap_used)] // test and bench code: a panic is the failure report

use zkattr_circuits::{
    field::{self, Fr},
    halo2::{
        gated::mock_satisfied,
        halo2_base::gates::GateChip,
        merkle::{leaf_hash, merkle_root},
    },
};
use zkattr_service::datanet::{record::test_key, Content, Datanets, ImportOptions, Record};

const K: u32 = 15;

/// Proves "these items hash to `root`" with MockProver; true when every constraint holds.
fn circuit_accepts(items: &[(Fr, Fr)], root: Fr) -> bool {
    mock_satisfied(K, vec![root], |builder, hasher| {
        let gate = GateChip::<Fr>::default();
        let ctx = builder.main(0);
        let leaves: Vec<_> = items
            .iter()
            .enumerate()
            .map(|(i, (c, h))| {
                let c = ctx.load_witness(*c);
                let h = ctx.load_witness(*h);
                leaf_hash(ctx, &gate, hasher, c, h, i as u64)
            })
            .collect();
        vec![merkle_root(ctx, &gate, hasher, &leaves).unwrap()]
    })
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
