#!/bin/sh
# gofmt and go vet for vsray-sim: its package main and govmomi's simulator
# package with the overlay files added.
#
# usage: check.sh GO GOPATH SCRATCH_DIR   (GOCACHE etc. from the environment)
#
# go vet (Go 1.19) ignores -overlay for dependencies, so this vets against a
# scratch GOPATH of symlinks: govmomi's tree, with simulator/ holding links to
# govmomi's files plus ours. Nothing is copied.
set -eu

go=$1
gopath=$2
scratch=$3
sim=$(cd "$(dirname "$0")/.." && pwd)
govmomi=$gopath/src/github.com/vmware/govmomi

unformatted=$("$(dirname "$go")/gofmt" -l "$sim"/*.go "$sim"/overlay/*.go)
if [ -n "$unformatted" ]; then
	echo "not gofmt'd:" "$unformatted" >&2
	exit 1
fi

rm -rf "$scratch"
tree=$scratch/src/github.com/vmware/govmomi
mkdir -p "$tree/simulator"
for entry in "$govmomi"/*; do
	[ "$(basename "$entry")" = simulator ] || ln -s "$entry" "$tree/"
done
for entry in "$govmomi"/simulator/*; do
	ln -s "$entry" "$tree/simulator/"
done
for file in "$sim"/overlay/*.go; do
	ln -s "$file" "$tree/simulator/zz_vsray_$(basename "$file")"
done

cd "$sim"
GOPATH=$scratch:$gopath "$go" vet github.com/vmware/govmomi/simulator
# shellcheck disable=SC2046 # file names have no spaces
GOPATH=$scratch:$gopath "$go" vet $(ls ./*.go | grep -v '_test\.go$')
GOPATH=$scratch:$gopath "$go" vet .
echo "vsray-sim: gofmt and go vet clean"
