#!/usr/bin/env node
import { createChuteApp } from './chute-app.ts';

// Entry of `cdk synth` / `cdk deploy` (cdk.json: "app": "npx tsx infra/app.ts").
const { app } = createChuteApp();
app.synth();
