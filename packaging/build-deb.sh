#!/usr/bin/env bash
# Builds target/debian/kith_<version>_<arch>.deb from a release build.
# Needs cargo-deb (`cargo install cargo-deb --locked`).
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --release --locked
# The conffile is the default configuration with the packaged paths,
# generated from the one commented template.
target/release/kith config default --packaged > target/kith.toml
cargo deb --no-build --locked --strip "$@"
