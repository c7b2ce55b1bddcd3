import type { ShapeRule } from '../types';

export const activationRules: Record<string, ShapeRule> = {};
