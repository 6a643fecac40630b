/** `redis://user:secret@host` → `redis://user:***@host`: URLs as they may appear in logs and messages. */
export function redactUrl(text: string): string {
  return text.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:)[^@]*@/i, '$1***@');
}
