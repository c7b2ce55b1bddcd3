/**
 * The registry of shape rules: op type → rule, for the default ai.onnx domain and the other
 * domains real exporters emit (com.microsoft, ai.onnx.ml) or ONNX's own tests use
 * (ai.onnx.preview, ai.onnx.preview.training), and translated TFLite operators (domain `tflite`,
 * rules/tflite.ts). Each family of ops lives in its own file and exports a record of
 * rules; this file only gathers them.
 */
import type { ShapeRule } from '../types';
import { elementwiseRules } from './elementwise';
import { tensorRules } from './tensor';
import { generateRules } from './generate';
import { resizeRules } from './resize';
import { dataDependentRules } from './dataDependent';
import { controlRules } from './control';
import { convRules } from './conv';
import { poolRules } from './pool';
import { normalizationRules } from './normalization';
import { linearRules } from './linear';
import { recurrentRules } from './recurrent';
import { reduceRules } from './reduce';
import { activationRules } from './activation';
import { quantizationRules } from './quantization';
import { signalRules } from './signal';
import { miscRules } from './misc';
import { microsoftRules } from './microsoft';
import { trainingRules } from './training';
import { previewRules } from './preview';
import { mlRules } from './ml';
import { tfliteRule } from './tflite';
import { TFLITE_DOMAIN } from '../../tflite/attributes';

type RuleTable = Record<string, ShapeRule>;

/** Rule tables of the ai.onnx domain. A later table may not redefine an op (checked below). */
const DEFAULT_DOMAIN_TABLES: RuleTable[] = [
  elementwiseRules,
  tensorRules,
  generateRules,
  resizeRules,
  dataDependentRules,
  controlRules,
  convRules,
  poolRules,
  normalizationRules,
  linearRules,
  recurrentRules,
  reduceRules,
  activationRules,
  quantizationRules,
  signalRules,
  miscRules,
];

/** Rule tables of other domains, keyed by domain. */
const OTHER_DOMAIN_TABLES: Record<string, RuleTable[]> = {
  'com.microsoft': [microsoftRules],
  'ai.onnx.preview.training': [trainingRules],
  'ai.onnx.preview': [previewRules],
  'ai.onnx.ml': [mlRules],
};

const DEFAULT_DOMAIN = new Map<string, ShapeRule>();
for (const table of DEFAULT_DOMAIN_TABLES) {
  for (const [op, rule] of Object.entries(table)) {
    if (DEFAULT_DOMAIN.has(op)) throw new Error(`shape rule for ${op} defined twice`);
    DEFAULT_DOMAIN.set(op, rule);
  }
}
const OTHER_DOMAINS = new Map<string, ShapeRule>();
for (const [domain, tables] of Object.entries(OTHER_DOMAIN_TABLES)) {
  for (const table of tables) {
    for (const [op, rule] of Object.entries(table)) OTHER_DOMAINS.set(`${domain}:${op}`, rule);
  }
}

export function findRule(domain: string, opType: string): ShapeRule | undefined {
  if (domain === '' || domain === 'ai.onnx') return DEFAULT_DOMAIN.get(opType);
  // Translated TFLite operators (tflite/translate.ts): every op has a rule, since the file
  // declares every output shape and the rule falls back on it.
  if (domain === TFLITE_DOMAIN) return tfliteRule(opType);
  return OTHER_DOMAINS.get(`${domain}:${opType}`);
}

/** Op types of the default domain that have a rule, for the coverage table. */
export function coveredOps(): string[] {
  return [...DEFAULT_DOMAIN.keys()].sort();
}
