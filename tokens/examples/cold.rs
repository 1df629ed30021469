//! Cold-cache timing: `cargo run --release -p fast-litellm-tokens --example cold [-- MODE [FILTER]]`.
//!
//! Reproduces the real workload, where every call sees text it has never seen and other work
//! (Python's own tokenizer, the interpreter) has run in between, so the vocabulary tables,
//! the code and the TLB are cold. Before each timed call the caches are evicted; every call
//! gets a fresh English-like text (a few thousand distinct words with Zipf-like frequencies,
//! punctuation, numbers, contractions, a little non-ASCII, paragraphs).
//!
//! MODE:
//! * `cold` (default): stream 64 MiB on the calling thread, 8 MiB on every pool thread, churn
//!   the allocator, then sleep 2 ms (`COLD_SLEEP_MS`) so the pool's workers are parked, as
//!   after Python work.
//! * `l2`: stream 4 MiB on the calling thread only (L1/L2 cold, L3 mostly warm).
//! * `warm`: no eviction; still a different text each call (sizes cycle through a few).
//!
//! Environment: `COLD_SIZES="240:4001,..."` (chars:calls) replaces the default sizes;
//! `COLD_TEXT_FILE=path` cuts the texts from that file instead of generating them.
//!
//! FILTER runs only the rows whose label contains it. Times are medians (and 90th
//! percentiles) of single calls, minus the timer's own median overhead.

use std::hint::black_box;
use std::time::{Duration, Instant};

use fast_litellm_tokens::{Encoding, EncodingName};

/// Common English words, most frequent first (roughly); inflected forms are derived below.
const FUNCTION_WORDS: &str = "the of and to a in is that it for was on as with he be at by \
    I this had not are but from or have an they which one you were her all she there would \
    their we him been has when who will more no if out so said what up its about into than \
    them can only other new some could time these two may then do first any my now such like \
    our over man me even most made after also did many before must through back years where \
    much your way well down should because each just those people how too little state good \
    very make world still own see men work long get here between both life being under never \
    day same another know while last might us great old year off come since against go came \
    right used take three himself few house use during without again place around however \
    home small found thought went say part once general high upon school every don't does got \
    united left number course war until always away something fact though water less public \
    put think almost hand enough far took head yet government system better set told nothing \
    night end why called didn't eyes find going look asked later knew point next program city \
    business give group toward young days let room president side social given present \
    several order national possible rather second face per among form important often things \
    looked early white case John become large big need four within felt along children saw \
    best church ever least power development light thing seemed family interest want members \
    mind country area others done turned although open God service problem certain kind \
    began different door thus help sense means whole matter perhaps itself York it's times \
    law human line above name example action company hands local show whether five history \
    gave today either act feet across taken past quite anything seen having death week \
    experience body word half really field am car words already themselves I'm information \
    tell together college shall money period held keep sure probably free seems real behind \
    cannot miss political air question making office brought whose special major heard \
    problems federal became study ago moment available known result street economic boy \
    position reason change south board individual job areas society west close turn love \
    community true court force full seem am wife future age voice center woman control \
    common necessary policy following front sometimes six girl clear further land run \
    students provide feel party able mother music education university child effect level \
    stood military town short morning total outside rate figure class art century washington \
    north usually plan leave therefore evidence million sound black strong hard various says \
    believe type value play surface soon mean near lines table peace modern tax road red \
    book personal process situation minutes increase schools idea English alone women gone \
    nor food living private fire meeting person decided shot floor sat low basis";

const CONTENT_WORDS: &str = "account answer apple argue arrive attack attempt avoid balance \
    band bank battle bear beat bed believe bird blood blue boat bone border bottle branch \
    bread break bridge brother budget build burn buy camera cancer capital card care carry \
    catch cause cell chair challenge chance charge check choice choose claim clean climb \
    clock cloud coach coast coffee cold collect color compare complete computer concern \
    condition consider contain continue cook corner cost count cover create crime cross crowd \
    culture cup current customer cut damage dance danger dark data daughter deal debate \
    decide deep defend degree deliver demand depend describe design detail determine develop \
    die difference dinner direct discover discuss disease doctor dog dream dress drink drive \
    drop drug earn earth east eat edge effort egg election employee energy engine enjoy enter \
    environment escape establish event exchange exist expect expert explain express factor \
    fail fall farm father fear feature fight fill film final finance finger finish fish fit \
    floor flower fly focus follow foot foreign forest forget friend fruit fund game garden gas \
    gather glass goal gold green ground grow guard guess gun hair hang happen happy hate \
    health hear heart heat heavy hide hill hire hit hold hole hospital hotel hour huge \
    hundred hunt hurt image imagine improve include income indicate industry inside instead \
    interview invest island issue item join joke judge jump keep key kill kitchen knowledge \
    lake language laugh lawyer lay lead learn leg letter lie lift listen loan lose loss \
    machine magazine maintain manage market marry material measure medical meet memory \
    mention message method middle minute mission model month mountain mouth move movie \
    murder nation nature network news newspaper note notice occur offer officer oil operation \
    opinion option organize owner pain paint paper parent park partner pass patient pattern \
    pay perform phone pick picture piece plant player pocket poem police pool popular \
    population prepare press pressure price print prison produce product professor project \
    protect prove pull purpose push quality quick race radio rain raise range reach read \
    ready receive record reduce reflect region relate release remain remember remove repeat \
    report represent require research resource respond rest return reveal rich ride ring \
    rise risk river rock role roll rule safe salt save scene science score sea season seat \
    security sell send series serve settle shake shape share ship shoe shoot shop shoulder \
    shout sign silver simple sing sister sit skill skin sleep smile snow soft soldier solve \
    song speak speech spend sport spring square stage stand star start station stay step \
    stock stone stop store storm story strategy stress structure student style subject \
    succeed suffer suggest summer sun supply support swim talk target teach team teacher \
    technology television tend term test thank theory threat throw ticket tire tool top \
    touch tour trade train travel treat tree trial trip trouble truck trust try union unit \
    vacation visit vote wait walk wall watch wave wear weather weight wind window winter \
    wish wonder worker worry write wrong yard yellow";

const PROPER_NOUNS: &str = "London Paris Monday Friday January March America Europe Google \
    Microsoft Python Congress Senate Smith Johnson Williams Maria David Sarah Chicago Texas \
    California Africa Asia Christmas";

/// A little non-ASCII, at low frequency, as in real English text.
const RARE_WORDS: &[&str] = &[
    "café", "naïve", "résumé", "façade", "Zürich", "—", "…", "€20",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }
}

/// English-like prose generator with a Zipf-distributed vocabulary.
struct Prose {
    words: Vec<String>,
    /// Cumulative Zipf weights over `words`.
    cumulative: Vec<f64>,
}

impl Prose {
    fn new() -> Prose {
        let mut words: Vec<String> = FUNCTION_WORDS
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        // Content words and their inflections, interleaved so frequent stems rank high.
        let stems: Vec<&str> = CONTENT_WORDS.split_whitespace().collect();
        for suffix in ["", "s", "ed", "ing", "er", "ly", "ment", "ness", "able"] {
            for stem in &stems {
                let word = match suffix {
                    "" => stem.to_string(),
                    "s" if stem.ends_with('s') || stem.ends_with('h') => format!("{stem}es"),
                    _ if stem.ends_with('e') && suffix.starts_with(['e', 'i', 'a']) => {
                        format!("{}{suffix}", &stem[..stem.len() - 1])
                    }
                    _ => format!("{stem}{suffix}"),
                };
                words.push(word);
            }
            if suffix.is_empty() {
                words.extend(PROPER_NOUNS.split_whitespace().map(str::to_owned));
            }
        }
        let mut seen = std::collections::HashSet::new();
        words.retain(|w| seen.insert(w.clone()));
        let mut total = 0.0;
        let cumulative = (0..words.len())
            .map(|rank| {
                total += 1.0 / (rank as f64 + 2.7);
                total
            })
            .collect();
        Prose { words, cumulative }
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let total = *self.cumulative.last().unwrap();
        let x = (rng.next() >> 11) as f64 / (1u64 << 53) as f64 * total;
        let i = self.cumulative.partition_point(|&c| c < x);
        &self.words[i.min(self.words.len() - 1)]
    }

    fn sentence(&self, rng: &mut Rng, out: &mut String) {
        let len = 5 + rng.below(22);
        for k in 0..len {
            if k > 0 {
                out.push(' ');
            }
            if rng.chance(3) {
                match rng.below(5) {
                    0 => out.push_str(&(1900 + rng.below(125)).to_string()),
                    1 => out.push_str(&format!("{}%", rng.below(100))),
                    2 => out.push_str(&format!("{}.{}", rng.below(50), rng.below(10))),
                    3 => out.push_str(&format!("${},{:03}", 1 + rng.below(999), rng.below(1000))),
                    _ => out.push_str(&rng.below(1000).to_string()),
                }
                continue;
            }
            if rng.chance(1) {
                out.push_str(RARE_WORDS[rng.below(RARE_WORDS.len())]);
                continue;
            }
            let word = self.word(rng);
            let quoted = rng.chance(2);
            if quoted {
                out.push('"');
            }
            if k == 0 {
                let mut chars = word.chars();
                if let Some(first) = chars.next() {
                    out.extend(first.to_uppercase());
                    out.push_str(chars.as_str());
                }
            } else {
                out.push_str(word);
            }
            if quoted {
                out.push('"');
            }
            if k + 1 < len && rng.chance(8) {
                out.push(if rng.chance(85) { ',' } else { ';' });
            } else if k + 1 < len && rng.chance(1) {
                out.push_str(" (see below)");
            }
        }
        out.push(match rng.below(20) {
            0 => '?',
            1 => '!',
            2 => ':',
            _ => '.',
        });
    }

    /// About `chars` characters of paragraphs, cut to exactly that many characters.
    fn text(&self, rng: &mut Rng, chars: usize) -> String {
        let mut out = String::with_capacity(chars + 256);
        let mut count = 0;
        while count < chars {
            let before = out.len();
            self.sentence(rng, &mut out);
            if rng.chance(20) {
                out.push_str("\n\n");
            } else {
                out.push(' ');
            }
            count += out[before..].chars().count();
        }
        if let Some((cut, _)) = out.char_indices().nth(chars) {
            out.truncate(cut);
        }
        out
    }
}

/// Cache eviction between calls.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Cold,
    L2,
    Warm,
}

struct Evictor {
    big: Vec<u64>,
    per_thread: Vec<Vec<u64>>,
    rng: Rng,
    sleep: Duration,
}

impl Evictor {
    fn new() -> Evictor {
        let threads = rayon::current_num_threads();
        Evictor {
            big: (0..8 << 20).map(|i| i as u64).collect(),
            per_thread: (0..threads)
                .map(|_| (0..1 << 20).map(|i| i as u64).collect())
                .collect(),
            rng: Rng(0x9E37_79B9),
            // COLD_SLEEP_MS=0 keeps the pool's workers spinning instead of parked.
            sleep: Duration::from_millis(
                std::env::var("COLD_SLEEP_MS")
                    .ok()
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(2),
            ),
        }
    }

    fn stream(words: &[u64]) -> u64 {
        // One read per cache line; the hardware prefetcher makes this memory-bandwidth bound.
        words.iter().step_by(8).fold(0, |a, &w| a ^ w)
    }

    fn evict(&mut self, mode: Mode) {
        match mode {
            Mode::Warm => {}
            Mode::L2 => {
                black_box(Self::stream(&self.big[..512 << 10]));
            }
            Mode::Cold => {
                let per_thread = &self.per_thread;
                rayon::broadcast(|ctx| black_box(Self::stream(&per_thread[ctx.index()])));
                black_box(Self::stream(&self.big));
                // Allocator churn, as an interpreter would leave behind.
                let mut held: Vec<Vec<u8>> = (0..200)
                    .map(|_| vec![1u8; 16 + self.rng.below(16 << 10)])
                    .collect();
                held.retain(|_| self.rng.chance(50));
                black_box(&held);
                drop(held);
                if self.sleep > Duration::ZERO {
                    std::thread::sleep(self.sleep);
                }
            }
        }
    }
}

fn timer_overhead() -> Duration {
    let mut samples: Vec<Duration> = (0..10_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed()
        })
        .collect();
    samples.sort();
    samples[samples.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let mode = match args.next().as_deref() {
        None | Some("cold") => Mode::Cold,
        Some("l2") => Mode::L2,
        Some("warm") => Mode::Warm,
        Some(other) => panic!("unknown mode {other:?} (cold, l2, warm)"),
    };
    let filter = args.next();
    let prose = Prose::new();
    let mut rng = Rng(0x5EED_1234_ABCD);
    if let Ok(path) = std::env::var("COLD_DUMP_TEXT") {
        // A sample text for profiling elsewhere.
        std::fs::write(path, prose.text(&mut rng, 454_000)).unwrap();
        return;
    }
    println!(
        "{} distinct words; sample: {:?}",
        prose.words.len(),
        prose.text(&mut rng, 160)
    );

    // Load everything first: vocabulary loading is not what is measured.
    for name in EncodingName::ALL {
        Encoding::get(name).count("warm up the tables");
    }
    let overhead = timer_overhead();
    println!("timer overhead {overhead:?} (subtracted)");
    let mut evictor = Evictor::new();

    // COLD_SIZES="chars:calls,...", e.g. "240:3001" for chat-message-sized texts.
    let sizes: Vec<(usize, usize)> = match std::env::var("COLD_SIZES") {
        Ok(list) => list
            .split(',')
            .map(|pair| {
                let (chars, calls) = pair.split_once(':').expect("chars:calls");
                (chars.parse().unwrap(), calls.parse().unwrap())
            })
            .collect(),
        Err(_) => vec![(54, 601), (4_500, 201), (454_000, 31)],
    };
    // COLD_TEXT_FILE: cut the texts from this file instead of generating them.
    let file_text = std::env::var("COLD_TEXT_FILE")
        .ok()
        .map(|path| std::fs::read_to_string(path).expect("readable UTF-8 file"));
    let mut file_offset = 0;
    for &(chars, calls) in &sizes {
        // Fresh texts: one per call (a few, cycled, when warm so the data stays cached).
        let distinct = if mode == Mode::Warm && chars > 100_000 {
            2
        } else {
            calls
        };
        let texts: Vec<String> = (0..distinct)
            .map(|_| match &file_text {
                Some(all) => {
                    let text: String = all[file_offset..].chars().take(chars).collect();
                    file_offset = (file_offset + text.len()) % (all.len() - text.len()).max(1);
                    text
                }
                None => prose.text(&mut rng, chars),
            })
            .collect();
        for name in EncodingName::ALL {
            let enc = Encoding::get(name);
            let tokens = enc.count(&texts[0]);
            for (what, chunked) in [
                ("split", None),
                ("count", Some(false)),
                ("count_chunked 1024", Some(true)),
            ] {
                let label = format!("{name} {chars:>7} chars {what}");
                if filter.as_deref().is_some_and(|f| !label.contains(f)) {
                    continue;
                }
                let mut samples = Vec::with_capacity(calls);
                for i in 0..calls {
                    let text = texts[i % texts.len()].as_str();
                    evictor.evict(mode);
                    let start = Instant::now();
                    let n = match chunked {
                        Some(true) => enc.count_chunked(black_box(text), 1024),
                        Some(false) => enc.count(black_box(text)),
                        None => enc.split(black_box(text)).count(),
                    };
                    let elapsed = start.elapsed();
                    black_box(n);
                    samples.push(elapsed.saturating_sub(overhead));
                }
                samples.sort();
                let median = samples[samples.len() / 2];
                let p90 = samples[samples.len() * 9 / 10];
                println!(
                    "{label:<44} median {median:>10.3?}  p90 {p90:>10.3?}  (~{tokens} tokens)"
                );
            }
        }
    }
}
