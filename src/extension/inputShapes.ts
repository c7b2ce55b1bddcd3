/**
 * Set Input Shape: asks for the whole shape of each input with symbolic dimensions (prefilled
 * with the declared one, `1x3xHxW`), checks it, and remembers it per model file in the
 * workspace's state. The server analyses with it (AnalyzerSettings.fileInputShapes), over the
 * `modelLens.inputShapes` globs.
 */
import * as vscode from 'vscode';
import type { LanguageClient } from 'vscode-languageclient/node';
import { formatShape, parseShape, type InputShapes } from '../shared/inputShapes';
import { InputShapesRequest, MODEL_SCHEME, type InputShapesResult } from '../shared/protocol';

export const SET_INPUT_SHAPE_COMMAND = 'modelLens.setInputShape';

/** workspaceState key: model file path → input name → dims. */
const STATE_KEY = 'modelLens.inputShapesByFile';

let memento: vscode.Memento | undefined;

/** Where the shapes are remembered; called once on activation. */
export function useInputShapeStorage(storage: vscode.Memento): void {
  memento = storage;
}

/** Every file's shapes set with Set Input Shape. */
export function fileInputShapes(): Record<string, InputShapes> {
  return memento?.get<Record<string, InputShapes>>(STATE_KEY) ?? {};
}

async function storeShapes(file: string, shapes: InputShapes): Promise<void> {
  const all = { ...fileInputShapes() };
  if (Object.keys(shapes).length === 0) delete all[file];
  else all[file] = shapes;
  await memento?.update(STATE_KEY, all);
}

/** The model the command is for: the argument (a URI string from a quick fix) or the editor. */
function targetUri(arg: unknown): string | undefined {
  if (typeof arg === 'string' && arg.startsWith(`${MODEL_SCHEME}:`)) return arg;
  if (arg instanceof vscode.Uri && arg.scheme === MODEL_SCHEME) return arg.toString();
  const editor = vscode.window.activeTextEditor;
  if (editor?.document.uri.scheme === MODEL_SCHEME) return editor.document.uri.toString();
  return undefined;
}

/**
 * Registers the command. `changed` sends the settings again (the server re-analyses every model
 * and refreshes the annotations).
 */
export function registerSetInputShape(
  context: vscode.ExtensionContext,
  client: LanguageClient,
  changed: () => Promise<void>,
): void {
  useInputShapeStorage(context.workspaceState);
  context.subscriptions.push(
    vscode.commands.registerCommand(SET_INPUT_SHAPE_COMMAND, async (arg?: unknown) => {
      const uri = targetUri(arg);
      if (!uri)
        return void vscode.window.showInformationMessage(
          'Model Lens: open an .onnx or .tflite model first.',
        );
      const model: InputShapesResult | null = await client.sendRequest(InputShapesRequest, { uri });
      if (!model)
        return void vscode.window.showWarningMessage('Model Lens: this model has no analysis.');
      const own = fileInputShapes()[model.path] ?? {};
      const asked = model.inputs.filter(
        (i) => i.set || own[i.name] || !i.declared || i.declared.some((d) => typeof d !== 'number'),
      );
      if (asked.length === 0) {
        return void vscode.window.showInformationMessage(
          'Model Lens: every input of this model has a fixed shape; there is nothing to set.',
        );
      }
      const shapes: InputShapes = { ...own };
      for (const [k, input] of asked.entries()) {
        const declared = input.declared ?? undefined;
        const shown = declared ? formatShape(declared) : 'unknown';
        const current = input.set ?? own[input.name];
        const value = await vscode.window.showInputBox({
          title: `Model Lens: Set Input Shape${asked.length > 1 ? ` (${k + 1}/${asked.length})` : ''}`,
          prompt: `Shape of input '${input.name}' (declared ${shown}), e.g. ${exampleFor(declared)}. Leave empty to count its symbolic dimensions as 1 again.`,
          value: current ? current.join('x') : declared ? formatShape(declared) : '',
          ignoreFocusOut: true,
          validateInput: (text) =>
            text.trim() === '' ? undefined : errorOf(parseShape(text, declared)),
        });
        if (value === undefined) return; // Escape: nothing changes.
        const parsed = parseShape(value, declared);
        if (value.trim() === '') delete shapes[input.name];
        else if ('dims' in parsed) shapes[input.name] = parsed.dims;
      }
      await storeShapes(model.path, shapes);
      await changed();
    }),
  );
}

function errorOf(result: { dims: number[] } | { error: string }): string | undefined {
  return 'error' in result ? result.error : undefined;
}

/** `1x3x224x224` for `1x3xHxW`: the declared numbers, 224 for the rest. */
function exampleFor(declared: readonly (number | string)[] | undefined): string {
  if (!declared) return '1x3x224x224';
  return declared.map((d, i) => (typeof d === 'number' && d > 0 ? d : i === 0 ? 1 : 224)).join('x');
}
