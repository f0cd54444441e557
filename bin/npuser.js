#!/usr/bin/env node
// The `npuser` command. Its code is dist/cli.js, built with the library so that
// `npuser serve` shares the library's own modules instead of carrying a copy.
import '../dist/cli.js';
