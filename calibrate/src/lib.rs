//! From a measured ladder (payload size → Python and native latency) to the threshold `auto`
//! mode uses: the smallest size from which native wins consistently.
//!
//! "Consistently" means at that ladder point and at every larger one, native's median beats
//! Python's by the safety margin. One noisy or slower mid-ladder point therefore moves the
//! threshold above it rather than letting `auto` pick native where it was seen to lose.

/// One ladder point: medians in nanoseconds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LadderPoint {
    pub size: u64,
    pub python_ns: f64,
    pub native_ns: f64,
}

/// Where `auto` sends calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Crossover {
    /// Native at every size (threshold 0).
    Always,
    /// Python at every size.
    Never,
    /// Native from this size up.
    From(u64),
}

impl Crossover {
    /// The threshold as the policy stores it: `Some(size)` (0 for always) or `None` for never.
    pub fn threshold(self) -> Option<u64> {
        match self {
            Crossover::Always => Some(0),
            Crossover::Never => None,
            Crossover::From(size) => Some(size),
        }
    }
}

/// Native wins at a point when it is faster than Python by at least `margin` (0.05 = 5%).
pub fn native_wins(point: &LadderPoint, margin: f64) -> bool {
    point.native_ns.is_finite()
        && point.python_ns.is_finite()
        && point.native_ns * (1.0 + margin) <= point.python_ns
}

/// The crossover of a ladder; points may come in any order. An empty ladder is `Never`:
/// without evidence native is not chosen.
pub fn find_crossover(points: &[LadderPoint], margin: f64) -> Crossover {
    let mut ladder: Vec<LadderPoint> = points.to_vec();
    ladder.sort_by_key(|point| point.size);
    let winning_suffix = ladder
        .iter()
        .rev()
        .take_while(|point| native_wins(point, margin))
        .count();
    match winning_suffix {
        0 => Crossover::Never,
        n if n == ladder.len() => Crossover::Always,
        n => Crossover::From(ladder[ladder.len() - n].size),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ladder(values: &[(u64, f64, f64)]) -> Vec<LadderPoint> {
        values
            .iter()
            .map(|&(size, python_ns, native_ns)| LadderPoint {
                size,
                python_ns,
                native_ns,
            })
            .collect()
    }

    #[test]
    fn clean_crossover() {
        let points = ladder(&[
            (1, 100.0, 300.0),
            (10, 200.0, 300.0),
            (100, 900.0, 400.0),
            (1000, 9000.0, 900.0),
        ]);
        assert_eq!(find_crossover(&points, 0.05), Crossover::From(100));
    }

    #[test]
    fn always_and_never() {
        let fast = ladder(&[(1, 100.0, 10.0), (10, 200.0, 20.0)]);
        assert_eq!(find_crossover(&fast, 0.05), Crossover::Always);
        assert_eq!(Crossover::Always.threshold(), Some(0));
        let slow = ladder(&[(1, 10.0, 100.0), (10, 20.0, 200.0)]);
        assert_eq!(find_crossover(&slow, 0.05), Crossover::Never);
        assert_eq!(Crossover::Never.threshold(), None);
        assert_eq!(find_crossover(&[], 0.05), Crossover::Never);
    }

    #[test]
    fn margin_keeps_near_ties_on_python() {
        let tie = ladder(&[(1, 100.0, 98.0), (10, 1000.0, 500.0)]);
        assert_eq!(find_crossover(&tie, 0.05), Crossover::From(10));
        assert_eq!(find_crossover(&tie, 0.0), Crossover::Always);
    }

    #[test]
    fn non_monotonic_ladder_starts_after_the_last_loss() {
        // native wins small, loses in the middle, wins large: only the consistent tail counts
        let points = ladder(&[
            (1, 100.0, 10.0),
            (10, 100.0, 200.0),
            (100, 1000.0, 100.0),
            (1000, 9000.0, 500.0),
        ]);
        assert_eq!(find_crossover(&points, 0.05), Crossover::From(100));
        // losing at the largest size means never, whatever happens below
        let tail_loss = ladder(&[(1, 100.0, 10.0), (10, 100.0, 10.0), (100, 100.0, 300.0)]);
        assert_eq!(find_crossover(&tail_loss, 0.05), Crossover::Never);
    }

    #[test]
    fn noisy_points_and_order_do_not_matter_beyond_the_rule() {
        let mut points = ladder(&[
            (1000, 9000.0, 800.0),
            (1, 100.0, 150.0),
            (100, 950.0, 905.0),
            (10, 300.0, 100.0),
        ]);
        // 100: 905*1.05 = 950.25 > 950 → a loss within noise keeps the threshold above it
        assert_eq!(find_crossover(&points, 0.05), Crossover::From(1000));
        points.reverse();
        assert_eq!(find_crossover(&points, 0.05), Crossover::From(1000));
        let with_nan = ladder(&[(1, 100.0, f64::NAN), (10, 100.0, 10.0)]);
        assert_eq!(find_crossover(&with_nan, 0.05), Crossover::From(10));
    }
}
