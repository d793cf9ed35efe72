/** Small shared pieces: states (loading, empty, error), field errors, secrets with reveal and copy. */
import type { ComponentChildren } from 'preact';
import { useState } from 'preact/hooks';
import { ApiError } from './api';

export function Loading({ what }: { what?: string }) {
  return <p class="state loading" role="status">Loading{what ? ` ${what}` : ''}…</p>;
}

export function Empty({ children }: { children: ComponentChildren }) {
  return <p class="state empty">{children}</p>;
}

export function ErrorBox({ error, retry }: { error?: Error; retry?: () => void }) {
  if (!error) return null;
  const code = error instanceof ApiError && error.errorCode ? ` (${error.errorCode})` : '';
  return (
    <div class="state error" role="alert">
      {error.message}{code}
      {retry && <button type="button" class="link" onClick={retry}>Retry</button>}
    </div>
  );
}

/** The API's message next to the field it names (`Invalid field 'x': ...`). */
export function FieldError({ error, field, also = [] }: { error?: Error; field: string; also?: string[] }) {
  if (!(error instanceof ApiError) || !error.field) return null;
  const names = [field, ...also];
  if (!names.some((f) => error.field === f || error.field!.startsWith(`${f}.`))) return null;
  return <span class="field-error" role="alert" data-field={field}>{error.message}</span>;
}

/** An API error that no field claims. */
export function FormError({ error, fields }: { error?: Error; fields: string[] }) {
  if (!error) return null;
  if (error instanceof ApiError && error.field && fields.some((f) => error.field === f || error.field!.startsWith(`${f}.`))) return null;
  return <ErrorBox error={error} />;
}

export function CopyButton({ text, label = 'Copy' }: { text: string; label?: string }) {
  const [done, setDone] = useState(false);
  return (
    <button type="button" class="small" onClick={() => {
      void navigator.clipboard?.writeText(text).then(() => { setDone(true); setTimeout(() => setDone(false), 1500); }, () => undefined);
    }}>{done ? 'Copied' : label}</button>
  );
}

/** Hidden until revealed; copy works without revealing. */
export function Secret({ value, label }: { value: string; label: string }) {
  const [shown, setShown] = useState(false);
  return (
    <span class="secret" data-secret={label}>
      <code>{shown ? value : '••••••••••••'}</code>
      <button type="button" class="small" onClick={() => setShown(!shown)} aria-label={`${shown ? 'Hide' : 'Show'} ${label}`}>{shown ? 'Hide' : 'Show'}</button>
      <CopyButton text={value} />
    </span>
  );
}

export function Json({ value }: { value: unknown }) {
  return <pre class="json">{JSON.stringify(value, null, 2)}</pre>;
}

export function Dl({ rows }: { rows: Array<[string, ComponentChildren]> }) {
  return (
    <dl class="details">
      {rows.filter(([, v]) => v !== undefined && v !== null && v !== '').map(([k, v]) => [<dt key={`${k}-t`}>{k}</dt>, <dd key={`${k}-d`} data-key={k}>{v}</dd>])}
    </dl>
  );
}

export function Status({ value }: { value?: string }) {
  return <span class={`badge badge-${value ?? 'none'}`}>{value ?? '—'}</span>;
}

export const when = (iso?: string): string => (iso ? new Date(iso).toLocaleString() : '—');

/** Reads a chosen file as text (certificates). */
export function readFileText(input: HTMLInputElement): Promise<string | undefined> {
  const file = input.files?.[0];
  return file ? file.text() : Promise.resolve(undefined);
}

/** Saves text as a file download. */
export function download(name: string, text: string, type = 'application/x-pem-file'): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Server-side paging with continuation tokens: Previous walks back through the tokens seen. */
export function Pager({ page, hasNext, onPrev, onNext }: { page: number; hasNext: boolean; onPrev(): void; onNext(): void }) {
  return (
    <div class="pager">
      <button type="button" disabled={page === 0} onClick={onPrev}>Previous</button>
      <span>Page {page + 1}</span>
      <button type="button" disabled={!hasNext} onClick={onNext}>Next</button>
    </div>
  );
}
