import type { ShapeRule } from '../types';

export const normalizationRules: Record<string, ShapeRule> = {};
