/**
 * Writes docs/shape-coverage.md from src/core/shapes/coverage.ts (the operator table) and
 * src/core/shapes/conformance.ts (our rules against ONNX's operator conformance suite):
 *   npx tsx scripts/shapeCoverage.ts
 * The suite is Debian's libonnx-testdata (scripts/testData.sh installs it) or the folder in
 * $ONNX_CONFORMANCE_DATA. Without one, the Conformance section of the current file is kept.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { coverageRows, ONNX_OPSET } from '../src/core/shapes/coverage';
import {
  findConformanceData,
  runConformance,
  type ConformanceCase,
  type ConformanceReport,
} from '../src/core/shapes/conformance';

const DOC = path.join(import.meta.dirname, '..', 'docs', 'shape-coverage.md');
const CONFORMANCE_HEADING = '## Conformance';

/** A Markdown table with padded columns, as Prettier formats it (the file stays Prettier-clean). */
function table(header: string[], body: string[][]): string[] {
  const cell = (x: string): string => x.replace(/\|/g, '\\|');
  const rows = body.map((r) => r.map(cell));
  const widths = header.map((h, c) => Math.max(3, h.length, ...rows.map((r) => r[c].length)));
  const line = (cells: string[]): string =>
    `| ${cells.map((x, c) => x.padEnd(widths[c])).join(' | ')} |`;
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)];
}

function operatorSection(): string[] {
  const rows = coverageRows();
  const count = (s: string): number => rows.filter((r) => r.status === s).length;
  const label = { rule: 'shape rule', exception: 'exception', missing: '**missing**' } as const;
  return [
    '## Operators',
    '',
    `Every operator of the default \`ai.onnx\` domain up to opset ${ONNX_OPSET} (ONNX's`,
    '`docs/Operators.md`) and its shape-inference status. Exceptions are listed with their reason',
    'in `SHAPE_RULE_EXCEPTIONS`. Data-dependent sizes (NonZero, Unique, TopK with a runtime K …)',
    'are named symbols, never guesses.',
    '',
    `${rows.length} operators: ${count('rule')} with a rule, ${count('exception')} listed as ` +
      `exceptions, ${count('missing')} missing.`,
    '',
    ...table(
      ['Operator', 'Status', 'Reason'],
      rows.map((r) => [r.op, label[r.status], r.reason ?? '']),
    ),
  ];
}

const percent = (x: number): string => `${(x * 100).toFixed(1)} %`;

function conformanceSection(report: ConformanceReport, suite: string): string[] {
  const of = (s: ConformanceCase['status']): ConformanceCase[] =>
    report.cases.filter((c) => c.status === s);
  const failed = of('fail').sort(
    (a, b) => a.op.localeCompare(b.op) || a.name.localeCompare(b.name),
  );
  const excluded = of('excluded').sort(
    (a, b) => a.op.localeCompare(b.op) || a.name.localeCompare(b.name),
  );
  const notTensor = of('not-tensor');
  const fed = report.cases.filter((c) => c.constantInputs.length > 0 && c.status !== 'not-tensor');
  const dtype = report.cases.filter((c) => c.dtypeMismatches.length > 0);
  const lines = [
    CONFORMANCE_HEADING,
    '',
    "Our rules against ONNX's operator conformance suite: the `node` tests of",
    `\`onnx/backend/test/data\` (${suite}, ${report.cases.length} tests; \`npm test\``,
    "installs Debian's `libonnx-testdata`, ONNX 1.12's suite). `test/unit/shapes/conformance.test.ts`",
    'requires at least 98 %. Each test model is inferred as a user model would be',
    '(`src/core/shapes/conformance.ts`):',
    '',
    "- its inputs get the shapes of the test's input tensors; their values stay unknown;",
    '- the declared types of its outputs and its `value_info` (sub-graphs included) are removed',
    '  first: inference merges declared shapes, and would copy the answer instead of computing it;',
    "- inputs that size an output and that real models give as constants (Reshape's `shape`,",
    "  Slice's `starts`, TopK's `K` … `SHAPE_PARAMETER_INPUTS`) are fed as initializers with the",
    `  test's values (${fed.length} tests);`,
    "- a test passes when every output shape equals the expected tensor's dims exactly.",
    '',
    `**${report.passed} of ${report.counted} tests pass (${percent(report.rate)}).** ` +
      `${excluded.length} tests are excluded because their output size depends on input values ` +
      `known only at run time, and ${notTensor.length} are not counted because their outputs ` +
      'are sequences or optionals.',
    '',
    '### Failures by op',
    '',
  ];
  if (failed.length === 0) lines.push('None.');
  else {
    lines.push(
      ...table(
        ['Op', 'Test', 'Reason'],
        failed.map((c) => [c.op, c.name, c.reason ?? '']),
      ),
    );
  }
  lines.push(
    '',
    `### Excluded: output size set by input values (${excluded.length})`,
    '',
    'The values of a data input (not a shape parameter) size the output, so no static rule can',
    'know it: our rules give a named symbol there (`DATA_DEPENDENT_INPUTS`). "Right anyway" says',
    'whether the inferred shapes matched regardless.',
    '',
  );
  if (excluded.length === 0) lines.push('None.');
  else {
    lines.push(
      ...table(
        ['Op', 'Test', 'Why', 'Right anyway'],
        excluded.map((c) => [c.op, c.name, c.reason ?? '', c.shapesRight ? 'yes' : 'no']),
      ),
    );
  }
  lines.push(
    '',
    `### Not counted: sequence or optional outputs (${notTensor.length})`,
    '',
    notTensor.map((c) => `\`${c.name}\``).join(', ') || 'None.',
  );
  if (dtype.length) {
    lines.push(
      '',
      '### Element types',
      '',
      'Not part of the pass rate, which is about shapes: outputs whose inferred element type',
      "differs from the expected tensor's:",
      '',
      dtype.map((c) => `\`${c.name}\` (${c.dtypeMismatches.join(', ')})`).join(', '),
    );
  }
  return lines;
}

/** The Conformance section of the current file, when the suite is not on this machine. */
function previousConformance(): string[] | undefined {
  if (!fs.existsSync(DOC)) return undefined;
  const text = fs.readFileSync(DOC, 'utf8');
  const at = text.indexOf(`\n${CONFORMANCE_HEADING}\n`);
  return at < 0
    ? undefined
    : text
        .slice(at + 1)
        .trimEnd()
        .split('\n');
}

const suite = findConformanceData();
let conformance: string[];
if (suite) {
  conformance = conformanceSection(runConformance(suite), suite);
} else {
  conformance = previousConformance() ?? [
    CONFORMANCE_HEADING,
    '',
    'Not measured yet: install the suite (`apt-get install libonnx-testdata`) and regenerate.',
  ];
  console.error(
    'shapeCoverage: no ONNX conformance suite (apt-get install libonnx-testdata, or set ' +
      'ONNX_CONFORMANCE_DATA); the Conformance section is kept as it was',
  );
}

const lines = [
  '# Shape inference coverage',
  '',
  '<!-- Generated by scripts/shapeCoverage.ts (npx tsx scripts/shapeCoverage.ts); do not edit. -->',
  '',
  ...operatorSection(),
  '',
  ...conformance,
];
fs.writeFileSync(DOC, lines.join('\n') + '\n');
console.log(`shapeCoverage: wrote ${path.relative(process.cwd(), DOC)}`);
