import type { ShapeRule } from '../types';

export const controlRules: Record<string, ShapeRule> = {};
