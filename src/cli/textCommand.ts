/**
 * `model-lens text FILE`: prints the model's text view, exactly the text the analyzer server
 * shows for the file (same printer, same initializer summaries). In editors other than VS Code,
 * the server's hovers, inlay hints, diagnostics and outline refer to the lines of this text
 * (docs/editors.md); a model that can't be read is an error (exit 2), with nothing on stdout.
 */
import { loadAnyModel } from '../core/modelFile';
import { printModelView } from '../core/text/modelView';

export function textCommand(file: string): number {
  process.stdout.write(printModelView(loadAnyModel(file)).text);
  return 0;
}
