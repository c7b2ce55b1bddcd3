/** The status-bar item: the selected device and the verdict for the model in the active editor. */
import * as vscode from 'vscode';
import { formatPercent } from '../core/format';
import { MODEL_SCHEME, type ModelStatus } from '../shared/protocol';

export class DeviceStatusBar implements vscode.Disposable {
  private readonly item = vscode.window.createStatusBarItem(vscode.StatusBarAlignment.Right, 100);
  private readonly statuses = new Map<string, ModelStatus>();
  private readonly subscription: vscode.Disposable;

  constructor(private device: () => string) {
    this.item.command = 'modelLens.selectDevice';
    this.item.name = 'Model Lens device';
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
      return;
    }
    const status = this.statuses.get(editor.document.uri.toString());
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
      this.item.text = `$(${d.fits ? 'check' : 'error'}) ${d.id}: ${d.fits ? 'fits' : over}`;
      this.item.tooltip = `${d.name}: flash ${formatPercent(d.weightUse)}, RAM ${formatPercent(d.ramUse)}. Click to choose another device.`;
    }
    this.item.show();
  }

  dispose(): void {
    this.item.dispose();
    this.subscription.dispose();
  }
}
