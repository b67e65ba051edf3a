import { render } from "@testing-library/react";
import type { ReactElement } from "react";
import { App } from "../App";
import { I18nProvider } from "../I18nContext";

export function renderApp() {
  return render(
    <I18nProvider>
      <App />
    </I18nProvider>,
  );
}

export function renderWithI18n(ui: ReactElement) {
  return render(<I18nProvider>{ui}</I18nProvider>);
}
