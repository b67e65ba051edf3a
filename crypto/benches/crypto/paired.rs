//! Paired comparisons. The machine these run on is shared, and its speed drifts by ±30% over
//! seconds (host contention on the virtual CPUs), so two criterion benchmarks measured a
//! minute apart can differ by more than the effect being measured. Here the two sides run
//! alternately in short blocks (~20 ms each, order swapped every round) and each round gives
//! one ratio; the median of those ratios is robust to the drift.

use std::hint::black_box;
use std::time::{Duration, Instant};

/// Runs `iters` iterations of `routine`, timing them only.
pub fn plain<O>(iters: u64, mut routine: impl FnMut() -> O) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        black_box(routine());
    }
    start.elapsed()
}

/// Makes `iters` inputs with `setup` (not timed), then times `routine` over them; outputs are
/// dropped after the clock stops, as criterion's `iter_batched` does.
pub fn batched<I, O>(
    iters: u64,
    mut setup: impl FnMut() -> I,
    mut routine: impl FnMut(I) -> O,
) -> Duration {
    let inputs: Vec<I> = (0..iters).map(|_| setup()).collect();
    let start = Instant::now();
    let outputs: Vec<O> = inputs.into_iter().map(&mut routine).collect();
    let elapsed = start.elapsed();
    drop(black_box(outputs));
    elapsed
}

/// Which paired comparisons to run: all of them, those whose name contains the criterion
/// filter given on the command line, or none (`--list`, `--profile-time`,
/// `PARLEY_BENCH_PAIRED=0`). In `--test` mode each runs briefly.
pub struct Selection {
    filter: Option<String>,
    skip: bool,
    pub test_mode: bool,
}

impl Selection {
    pub fn from_args() -> Self {
        const WITH_VALUE: &[&str] = &[
            "--measurement-time",
            "--warm-up-time",
            "--sample-size",
            "--profile-time",
            "--save-baseline",
            "--baseline",
            "--baseline-lenient",
            "--load-baseline",
            "--output-format",
            "--color",
            "--plotting-backend",
            "--noise-threshold",
            "--confidence-level",
            "--significance-level",
            "--nresamples",
            "--format",
        ];
        let mut filter = None;
        let mut skip = std::env::var("PARLEY_BENCH_PAIRED").is_ok_and(|v| v == "0");
        let mut test_mode = false;
        let mut args = std::env::args().skip(1);
        while let Some(arg) = args.next() {
            match arg.as_str() {
                "--list" | "--profile-time" => skip = true,
                "--test" => test_mode = true,
                a if WITH_VALUE.contains(&a) => {
                    args.next();
                }
                a if a.starts_with('-') => {}
                a => filter = Some(a.to_owned()),
            }
        }
        Self {
            filter,
            skip,
            test_mode,
        }
    }

    pub fn wants(&self, name: &str) -> bool {
        !self.skip
            && self
                .filter
                .as_ref()
                .is_none_or(|f| name.contains(f.as_str()) || "paired".contains(f.as_str()))
    }
}

/// Iterations of `f` that take about `target`.
fn calibrate(f: &mut impl FnMut(u64) -> Duration, target: Duration) -> u64 {
    let mut iters = 1u64;
    loop {
        let t = f(iters);
        if t >= target / 4 || iters >= 1 << 20 {
            let per = t.as_secs_f64() / iters as f64;
            return ((target.as_secs_f64() / per).ceil() as u64).max(1);
        }
        iters *= 4;
    }
}

/// Alternates `ours` and `theirs` for about `budget` and prints the median ratio of their
/// per-iteration times, with the 10th and 90th percentiles of the per-round ratios.
#[allow(clippy::print_stdout)]
pub fn compare(
    sel: &Selection,
    name: &str,
    mut ours: impl FnMut(u64) -> Duration,
    mut theirs: impl FnMut(u64) -> Duration,
    budget: Duration,
) {
    if !sel.wants(name) {
        return;
    }
    let block = Duration::from_millis(20);
    let budget = if sel.test_mode {
        Duration::from_millis(50)
    } else {
        budget
    };
    let (n_ours, n_theirs) = (calibrate(&mut ours, block), calibrate(&mut theirs, block));
    let mut ratios = Vec::new();
    let (mut t_ours, mut t_theirs) = (Vec::new(), Vec::new());
    let start = Instant::now();
    let mut round = 0u32;
    while start.elapsed() < budget || ratios.len() < 3 {
        let (a, b) = if round.is_multiple_of(2) {
            let a = ours(n_ours);
            (a, theirs(n_theirs))
        } else {
            let b = theirs(n_theirs);
            (ours(n_ours), b)
        };
        let a = a.as_secs_f64() / n_ours as f64;
        let b = b.as_secs_f64() / n_theirs as f64;
        ratios.push(a / b);
        t_ours.push(a);
        t_theirs.push(b);
        round += 1;
    }
    let q = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        v[((v.len() - 1) as f64 * p).round() as usize]
    };
    println!(
        "paired {name}: ratio median {:.3} (p10 {:.3}, p90 {:.3}) over {} rounds; \
         per-iteration medians {} vs {}",
        q(&mut ratios, 0.5),
        q(&mut ratios, 0.1),
        q(&mut ratios, 0.9),
        ratios.len(),
        fmt(q(&mut t_ours, 0.5)),
        fmt(q(&mut t_theirs, 0.5)),
    );
}

fn fmt(secs: f64) -> String {
    if secs >= 1e-3 {
        format!("{:.3} ms", secs * 1e3)
    } else if secs >= 1e-6 {
        format!("{:.3} µs", secs * 1e6)
    } else {
        format!("{:.1} ns", secs * 1e9)
    }
}
