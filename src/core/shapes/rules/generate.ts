import type { ShapeRule } from '../types';

export const generateRules: Record<string, ShapeRule> = {};
