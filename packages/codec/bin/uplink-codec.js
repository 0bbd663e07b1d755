#!/usr/bin/env node
// The CLI lives in dist/ (built by `pnpm build`); this shim exists so that pnpm can link the bin at install time.
import { main } from '../dist/cli.js';

process.exitCode = await main(process.argv.slice(2));
