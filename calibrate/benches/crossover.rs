//! Criterion bench of the crossover search (HTML reports under target/criterion/).

use criterion::{criterion_group, criterion_main, Criterion};
use fast_litellm_calibrate::{find_crossover, LadderPoint};
use std::hint::black_box;

fn ladder(points: usize) -> Vec<LadderPoint> {
    (0..points)
        .map(|i| {
            let size = 1u64 << i;
            LadderPoint {
                size,
                python_ns: 20_000.0 + 250.0 * size as f64,
                native_ns: 900.0 + 60.0 * size as f64,
            }
        })
        .collect()
}

fn crossover(c: &mut Criterion) {
    for points in [11, 40] {
        let ladder = ladder(points);
        c.bench_function(&format!("find_crossover {points} points"), |b| {
            b.iter(|| find_crossover(black_box(&ladder), 0.05))
        });
    }
}

criterion_group!(benches, crossover);
criterion_main!(benches);
