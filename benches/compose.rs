//! The compose pipeline on the example issue, stage by stage.
//!
//! `cargo bench --bench compose`. Whole-process time against MJML is measured
//! by `bench/compose.sh`; see the README.

use std::path::Path;

use catchup::bench::{
    Issue, IssueName, Key, Library, Newsletter, ParseOptions, Purpose, Reader, Signer, Signers,
    Source, Template, parse, render,
};

fn main() {
    divan::main();
}

fn repo(relative: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

fn inputs() -> (Newsletter, Library, Source) {
    let newsletter =
        Newsletter::load(&repo("tests/fixtures/project/config/newsletter.toml")).expect("settings");
    let options = ParseOptions {
        mastheads: vec![newsletter.name.clone()],
    };
    let library = Library::load(&repo("tests/fixtures/project/seeds"), &options).expect("seeds");
    let issue = repo("tests/fixtures/project/config/issues/2018-07-27.toml");
    let text = std::fs::read_to_string(&issue).expect("issue");
    (newsletter, library, Source::new(issue, text))
}

/// Reading and checking `config/newsletter.toml`.
#[divan::bench]
fn load_settings() -> Newsletter {
    Newsletter::load(&repo("tests/fixtures/project/config/newsletter.toml")).expect("settings")
}

/// Parsing all five seeds (51 KB of text) from memory.
#[divan::bench]
fn parse_seeds(bencher: divan::Bencher) {
    let seeds: Vec<(String, String)> = std::fs::read_dir(repo("tests/fixtures/project/seeds"))
        .expect("seeds")
        .map(|e| {
            let path = e.expect("entry").path();
            let stem = path
                .file_stem()
                .expect("stem")
                .to_string_lossy()
                .into_owned();
            (stem, std::fs::read_to_string(&path).expect("read"))
        })
        .collect();
    let options = ParseOptions::default();
    bencher.bench(|| {
        seeds
            .iter()
            .map(|(stem, text)| parse(stem, text, &options).stories.len())
            .sum::<usize>()
    });
}

fn name() -> IssueName {
    IssueName::new("2018-07-27").expect("name")
}

/// Issue TOML → resolved issue → HTML (maud) → CSS inlined → text → message
/// template: everything `preview` does per issue, without file I/O.
#[divan::bench]
fn compose_example_issue(bencher: divan::Bencher) {
    let (newsletter, library, source) = inputs();
    bencher.bench(|| {
        let issue = Issue::parse(name(), source.clone(), &library, &newsletter).expect("issue");
        let rendered = render(&issue, &newsletter).expect("render");
        Template::new(
            &issue,
            &newsletter,
            &rendered,
            Signers {
                links: Key::preview(),
                dkim: None,
            },
        )
    });
}

/// The CSS inliner alone, the costliest stage.
#[divan::bench]
fn render_and_inline(bencher: divan::Bencher) {
    let (newsletter, library, source) = inputs();
    let issue = Issue::parse(name(), source, &library, &newsletter).expect("issue");
    bencher.bench(|| render(&issue, &newsletter).expect("render"));
}

/// A DKIM signer with fresh keys, as `[[dkim]]` would load them: `rsa-2048`,
/// `ed25519`, or both joined by `+`.
fn signer(algorithms: &str, dir: &Path) -> Signer {
    use catchup::bench::{Dkim, DkimAlgorithm, KeySource};
    let settings: Vec<Dkim> = algorithms
        .split('+')
        .map(|name| {
            let algorithm = match name {
                "rsa-2048" => DkimAlgorithm::Rsa,
                _ => DkimAlgorithm::Ed25519,
            };
            let key = dir.join(format!("{name}.pem"));
            catchup::bench::keygen(algorithm, &key).expect("keygen");
            Dkim {
                domain: "hsj.example".into(),
                selector: name.into(),
                algorithm,
                key: KeySource::File(key),
                key_span: 0..0,
            }
        })
        .collect();
    let source = Source::new(
        repo("tests/fixtures/project/config/newsletter.toml"),
        String::new(),
    );
    Signer::load(&settings, &source, &catchup::bench::Env::process())
        .expect("signer")
        .0
}

/// One reader's copy from the template: what a list send does per reader,
/// unsigned and DKIM-signed (each reader's body differs, so each message is
/// signed on its own).
#[divan::bench(args = ["unsigned", "rsa-2048", "ed25519", "rsa-2048+ed25519"])]
fn personalise_one_reader(bencher: divan::Bencher, signing: &str) {
    let (newsletter, library, source) = inputs();
    let issue = Issue::parse(name(), source, &library, &newsletter).expect("issue");
    let rendered = render(&issue, &newsletter).expect("render");
    let dir = tempfile::tempdir().expect("tempdir");
    let dkim = (signing != "unsigned").then(|| std::sync::Arc::new(signer(signing, dir.path())));
    let template = Template::new(
        &issue,
        &newsletter,
        &rendered,
        Signers {
            links: Key::preview(),
            dkim,
        },
    );
    let reader = Reader {
        email: "ann.lee@nhs.example".parse().expect("address"),
        name: Some("Ann Lee".into()),
    };
    let date = chrono::DateTime::UNIX_EPOCH;
    bencher.bench(|| {
        template
            .message(&reader, Purpose::List, date)
            .map(|m| m.len())
    });
}
