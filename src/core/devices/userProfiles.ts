/**
 * Device profiles that users write themselves, as JSON: an array of profiles, or
 * `{ "devices": [...] }`. Each problem becomes one line that names the file, the profile and the
 * field, so it can be fixed without reading this code. A user profile with the id of a built-in
 * replaces it.
 *
 * `loadDeviceProfiles` refuses a file with any problem (the CLI: fix it and run again);
 * `readDeviceProfiles` skips the bad profiles and keeps the rest (the editor: show the problems,
 * carry on with what is valid).
 */
import { BUILTIN_DEVICES } from './profiles';
import type { DeviceProfile, Precision, SparsitySupport } from './profiles';
import { formatNm, parseNmPattern } from '../numerics/nmSparsity';

export interface LoadedProfiles {
  /** Built-ins, with user profiles replacing those of the same id, then the new user profiles. */
  profiles: DeviceProfile[];
  /** One line per problem, e.g. "devices.json: profile 'my-mcu': ramBytes must be …". */
  problems: string[];
}

const PRECISIONS: readonly Precision[] = ['fp32', 'fp16', 'int8', 'int4'];
const KNOWN_FIELDS = new Set([
  'id',
  'name',
  'ramBytes',
  'flashBytes',
  'onChipBytes',
  'macsPerSecond',
  'supportedWeightBits',
  'supportedActivationBits',
  'watts',
  'vectorWidth',
  'sparsity',
  'source',
]);

/**
 * Unit multipliers for size strings: KB/MB/GB/TB are decimal (1 KB = 1000 B), KiB/MiB/GiB/TiB
 * binary (1 KiB = 1024 B), as IEC 80000-13 defines them. Units are matched case-insensitively
 * ("kb" = "KB"), but the "i" always means binary.
 */
const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40,
};

/**
 * A size in bytes from a number of bytes or a string such as "512KiB", "2 MB", "1.5GiB" or
 * "4096" (bytes). Fractions are rounded to the nearest byte. Undefined when it is not a size.
 */
export function parseSize(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value !== 'string') return undefined;
  const match = /^\s*(\d+(?:\.\d+)?|\.\d+)\s*([a-z]*)\s*$/i.exec(value);
  if (match === null) return undefined;
  const multiplier = SIZE_UNITS[(match[2] || 'b').toLowerCase()];
  return multiplier === undefined ? undefined : Math.round(Number(match[1]) * multiplier);
}

/** A device id that names no built-in or user profile. */
export class UnknownDeviceError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnknownDeviceError';
  }
}

/** Thrown by `loadDeviceProfiles`; the message has one line per problem. */
export class DeviceProfileError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('\n'));
    this.name = 'DeviceProfileError';
  }
}

/** Built-ins plus the file's profiles; a DeviceProfileError when the file has any problem. */
export function loadDeviceProfiles(jsonText: string, sourceName: string): DeviceProfile[] {
  const { profiles, problems } = readDeviceProfiles(jsonText, sourceName);
  if (problems.length > 0) throw new DeviceProfileError(problems);
  return profiles;
}

/** Built-ins plus the file's valid profiles, and one line per problem with the others. */
export function readDeviceProfiles(jsonText: string, sourceName: string): LoadedProfiles {
  const problems: string[] = [];
  let parsed: unknown;
  try {
    parsed = JSON.parse(jsonText);
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return {
      profiles: [...BUILTIN_DEVICES],
      problems: [`${sourceName}: not valid JSON: ${reason}`],
    };
  }
  const entries = profileEntries(parsed);
  if (entries === undefined) {
    problems.push(`${sourceName}: expected an array of device profiles or { "devices": [...] }`);
    return { profiles: [...BUILTIN_DEVICES], problems };
  }

  const userProfiles = new Map<string, DeviceProfile>();
  entries.forEach((entry, index) => {
    const result = validateProfile(entry, index, sourceName);
    const label = `${sourceName}: ${result.label}`;
    if (result.profile !== undefined && userProfiles.has(result.profile.id)) {
      result.problems.push(`id '${result.profile.id}' is defined more than once`);
    }
    for (const problem of result.problems) problems.push(`${label}: ${problem}`);
    if (result.problems.length === 0 && result.profile !== undefined) {
      userProfiles.set(result.profile.id, result.profile);
    }
  });

  const profiles = BUILTIN_DEVICES.map((builtIn) => userProfiles.get(builtIn.id) ?? builtIn);
  const builtInIds = new Set(BUILTIN_DEVICES.map((d) => d.id));
  for (const profile of userProfiles.values()) {
    if (!builtInIds.has(profile.id)) profiles.push(profile);
  }
  return { profiles, problems };
}

/** The profile with this id; otherwise an error that lists the ids there are. */
export function findDevice(id: string, profiles: readonly DeviceProfile[]): DeviceProfile {
  const found =
    profiles.find((p) => p.id === id) ??
    profiles.find((p) => p.id.toLowerCase() === id.trim().toLowerCase());
  if (found !== undefined) return found;
  const known = profiles.map((p) => p.id).join(', ');
  throw new UnknownDeviceError(`unknown device '${id}' (known devices: ${known})`);
}

function profileEntries(parsed: unknown): unknown[] | undefined {
  if (Array.isArray(parsed)) return parsed;
  if (isRecord(parsed) && Array.isArray(parsed.devices)) return parsed.devices;
  return undefined;
}

interface Validated {
  label: string;
  profile?: DeviceProfile;
  problems: string[];
}

function validateProfile(entry: unknown, index: number, sourceName: string): Validated {
  const position = `profile #${index + 1}`;
  if (!isRecord(entry)) return { label: position, problems: ['must be an object'] };
  const hasId = typeof entry.id === 'string' && entry.id.trim() !== '';
  const label = hasId ? `profile '${String(entry.id)}'` : position;
  const problems: string[] = [];
  if (!hasId) problems.push('id must be a non-empty string');

  for (const field of Object.keys(entry)) {
    if (!KNOWN_FIELDS.has(field)) problems.push(`unknown field '${field}'`);
  }
  const name = optionalField(entry, 'name', problems, isString, 'a string');
  const ramBytes = size(entry, 'ramBytes', true, problems);
  const flashBytes = size(entry, 'flashBytes', true, problems);
  const onChipBytes = size(entry, 'onChipBytes', false, problems);
  const macsPerSecond = rates(entry.macsPerSecond, problems);
  const supportedWeightBits = bitList(entry, 'supportedWeightBits', problems);
  const supportedActivationBits = bitList(entry, 'supportedActivationBits', problems);
  const watts = optionalField(entry, 'watts', problems, isPositiveNumber, 'a positive number');
  const vectorWidth = optionalField(
    entry,
    'vectorWidth',
    problems,
    isPositiveInteger,
    'a positive whole number',
  );
  const source = optionalField(entry, 'source', problems, isString, 'a string');
  const sparsity = sparsitySupport(entry.sparsity, problems);
  if (problems.length > 0 || !hasId) return { label, problems };

  const id = String(entry.id).trim();
  const profile: DeviceProfile = {
    id,
    name: name ?? id,
    ramBytes: ramBytes ?? 0,
    flashBytes: flashBytes ?? 0,
    macsPerSecond,
    supportedWeightBits,
    supportedActivationBits,
    source: source ?? `user profile from ${sourceName}`,
  };
  if (onChipBytes !== undefined) profile.onChipBytes = onChipBytes;
  if (watts !== undefined) profile.watts = watts;
  if (vectorWidth !== undefined) profile.vectorWidth = vectorWidth;
  if (sparsity !== undefined) profile.sparsity = sparsity;
  return { label, profile, problems };
}

/** `{ "nm": ["2:4"], "unstructured": false }`, both optional; patterns normalised ("2:4"). */
function sparsitySupport(value: unknown, problems: string[]): SparsitySupport | undefined {
  if (value === undefined) return undefined;
  const usage = 'sparsity must be an object such as { "nm": ["2:4"], "unstructured": false }';
  if (!isRecord(value)) {
    problems.push(usage);
    return undefined;
  }
  const result: SparsitySupport = {};
  for (const key of Object.keys(value)) {
    if (key !== 'nm' && key !== 'unstructured')
      problems.push(`sparsity.${key} is unknown (${usage})`);
  }
  if (value.nm !== undefined) {
    if (!Array.isArray(value.nm)) {
      problems.push('sparsity.nm must be an array of N:M patterns such as ["2:4"]');
    } else {
      result.nm = [];
      for (const item of value.nm as unknown[]) {
        const parsed = typeof item === 'string' ? parseNmPattern(item) : undefined;
        if (!parsed || 'error' in parsed) {
          problems.push(
            `sparsity.nm: ${parsed ? parsed.error : `${JSON.stringify(item)} is not a string such as "2:4"`}`,
          );
        } else result.nm.push(formatNm(parsed));
      }
    }
  }
  if (value.unstructured !== undefined) {
    if (typeof value.unstructured !== 'boolean')
      problems.push('sparsity.unstructured must be true or false');
    else result.unstructured = value.unstructured;
  }
  return result;
}

function size(
  entry: Record<string, unknown>,
  field: string,
  required: boolean,
  problems: string[],
): number | undefined {
  const value = entry[field];
  if (value === undefined && !required) return undefined;
  const bytes = parseSize(value);
  if (bytes === undefined || bytes <= 0) {
    problems.push(
      `${field} must be a positive number of bytes or a size such as "512KiB" or "2MB"` +
        (value === undefined ? ' (it is missing)' : `, not ${JSON.stringify(value)}`),
    );
    return undefined;
  }
  return bytes;
}

function rates(value: unknown, problems: string[]): Partial<Record<Precision, number>> {
  const result: Partial<Record<Precision, number>> = {};
  if (!isRecord(value)) {
    problems.push(`macsPerSecond must be an object such as { "int8": 1e9 }`);
    return result;
  }
  for (const [key, rate] of Object.entries(value)) {
    if (!(PRECISIONS as readonly string[]).includes(key)) {
      problems.push(`macsPerSecond.${key} is not a known precision (${PRECISIONS.join(', ')})`);
    } else if (typeof rate !== 'number' || !Number.isFinite(rate) || rate <= 0) {
      problems.push(`macsPerSecond.${key} must be a positive number`);
    } else {
      result[key as Precision] = rate;
    }
  }
  if (Object.keys(value).length === 0) {
    problems.push(`macsPerSecond must give at least one of ${PRECISIONS.join(', ')}`);
  }
  return result;
}

function bitList(entry: Record<string, unknown>, field: string, problems: string[]): number[] {
  const value = entry[field];
  const valid =
    Array.isArray(value) &&
    value.length > 0 &&
    value.every((bits) => Number.isInteger(bits) && bits >= 1 && bits <= 64);
  if (!valid) {
    problems.push(`${field} must be a non-empty array of bit widths from 1 to 64, e.g. [8, 32]`);
    return [];
  }
  return value as number[];
}

/**
 * An optional field: undefined when absent, the value when `accept` narrows it, else a problem
 * saying what it must be.
 */
function optionalField<T>(
  entry: Record<string, unknown>,
  field: string,
  problems: string[],
  accept: (value: unknown) => value is T,
  requirement: string,
): T | undefined {
  const value = entry[field];
  if (value === undefined) return undefined;
  if (accept(value)) return value;
  problems.push(`${field} must be ${requirement}`);
  return undefined;
}

const isPositiveNumber = (v: unknown): v is number =>
  typeof v === 'number' && Number.isFinite(v) && v > 0;
const isPositiveInteger = (v: unknown): v is number => Number.isInteger(v) && (v as number) > 0;
const isString = (v: unknown): v is string => typeof v === 'string';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
