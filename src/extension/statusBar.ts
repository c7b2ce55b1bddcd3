/**
 * The status-bar items: the selected device and the verdict for the model in the active editor,
 * and, for a model with symbolic input dimensions, the input shape its figures assume.
 */
import * as vscode from 'vscode';
import { formatPercent } from '../core/format';
import { assumedDims, verdictText } from '../shared/inputShapes';
import { MODEL_SCHEME, type ModelStatus } from '../shared/protocol';
import { SET_INPUT_SHAPE_COMMAND } from './inputShapes';

export class DeviceStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly shapeItem = vscode.window.createStatusBarItem(
    vscode.StatusBarAlignment.Right,
    99,
  );
  private readonly statuses = new Map<string, ModelStatus>();
  private readonly subscription: vscode.Disposable;

  constructor(private device: () => string) {
    this.item.command = 'modelLens.selectDevice';
    this.item.name = 'Model Lens device';
    this.shapeItem.name = 'Model Lens input shape';
    this.subscription = vscode.window.onDidChangeActiveTextEditor(() => this.render());
    this.render();
  }

  update(status: ModelStatus): void {
    this.statuses.set(status.uri, status);
    this.render();
  }

  render(): void {
    const editor = vscode.window.activeTextEditor;
    if (editor?.document.uri.scheme !== MODEL_SCHEME) {
      this.item.hide();
      this.shapeItem.hide();
      return;
    }
    const status = this.statuses.get(editor.document.uri.toString());
    this.renderShape(editor.document.uri.toString(), status);
    const assumed = status?.symbolicDims ?? [];
    const assumption =
      assumed.length > 0
        ? ` The figures assume ${assumedDims(assumed)} (symbolic input dimensions count as 1): set the input shape with the item beside this one.`
        : '';
    const id = this.device();
    const d = status?.device;
    if (!id) {
      this.item.text = '$(circuit-board) Select device';
      this.item.tooltip = 'Model Lens: choose a target device to check the model against';
    } else if (!d) {
      this.item.text = `$(circuit-board) ${id}`;
      this.item.tooltip = status?.error ?? 'Model Lens: analysing…';
    } else {
      const over = [
        d.ramUse > 1 ? `RAM ${formatPercent(d.ramUse)}` : '',
        d.weightUse > 1 ? `flash ${formatPercent(d.weightUse)}` : '',
      ]
        .filter(Boolean)
        .join(' · ');
      const icon = d.fits ? (assumed.length > 0 ? 'question' : 'check') : 'error';
      this.item.text = `$(${icon}) ${verdictText(d.id, d.fits ? 'fits' : over, assumed)}`;
      this.item.tooltip = `${d.name}: flash ${formatPercent(d.weightUse)}, RAM ${formatPercent(d.ramUse)}.${assumption} Click to choose another device.`;
    }
    this.item.show();
  }

  /** `H=W=1?` while symbolic dims count as 1, the shapes set otherwise; runs Set Input Shape. */
  private renderShape(uri: string, status: ModelStatus | undefined): void {
    const assumed = status?.symbolicDims ?? [];
    const set = Object.entries(status?.inputShapes ?? {});
    if (assumed.length === 0 && set.length === 0) {
      this.shapeItem.hide();
      return;
    }
    const shapes = set.map(([name, dims]) => `${name}=${dims.join('x')}`).join(', ');
    if (assumed.length > 0) {
      this.shapeItem.text = `$(warning) ${assumedDims(assumed)}?`;
      this.shapeItem.tooltip = `Model Lens: the symbolic input dimension${assumed.length > 1 ? 's' : ''} ${assumed.join(', ')} count${assumed.length > 1 ? '' : 's'} as 1, so every figure assumes ${assumedDims(assumed)}${shapes ? ` (set: ${shapes})` : ''}. Click to set the input shape.`;
    } else {
      this.shapeItem.text = `$(symbol-ruler) ${shapes}`;
      this.shapeItem.tooltip = `Model Lens: the figures use the input shape ${shapes}. Click to change it.`;
    }
    this.shapeItem.command = {
      title: 'Set Input Shape',
      command: SET_INPUT_SHAPE_COMMAND,
      arguments: [uri],
    };
    this.shapeItem.show();
  }

  dispose(): void {
    this.shapeItem.dispose();
    this.item.dispose();
    this.subscription.dispose();
  }
}
