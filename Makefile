# SPDX-License-Identifier: MIT
#
# Shortcuts around meson/ninja. The build itself is meson's; see docs/testing.md.

BUILD_DIR ?= build
FUZZ_TIME ?= 20

.PHONY: build check demo bench soak fuzz format clean

build:
	@test -f $(BUILD_DIR)/meson-private/coredata.dat || meson setup $(BUILD_DIR)
	ninja -C $(BUILD_DIR)

check:
	scripts/deps.sh
	scripts/ci.sh

demo:
	scripts/deps.sh
	@$(MAKE) --no-print-directory build
	scripts/demo.sh

# vhu-blk vs qemu-storage-daemon under vhu-bench; rewrites docs/PERFORMANCE.md
bench:
	scripts/deps.sh
	@$(MAKE) --no-print-directory build
	BUILD_DIR=$(BUILD_DIR) scripts/bench.sh

# every live-migration case N times for vhu and the peers (default 10);
# rewrites the table in docs/RELIABILITY.md
N ?= 10
soak:
	scripts/deps.sh
	@$(MAKE) --no-print-directory build
	N=$(N) BUILD_DIR=$(BUILD_DIR) scripts/soak.sh

fuzz:
	@if [ -x scripts/fuzz.sh ]; then \
		FUZZ_TIME=$(FUZZ_TIME) scripts/fuzz.sh; \
	else \
		echo "fuzz: no scripts/fuzz.sh yet; fuzz targets run as 'meson test --suite fuzz'"; \
	fi

format:
	scripts/format.sh

clean:
	rm -rf build build-*
