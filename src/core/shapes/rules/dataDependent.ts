import type { ShapeRule } from '../types';

export const dataDependentRules: Record<string, ShapeRule> = {};
