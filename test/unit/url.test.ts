/**
 * Adversarial tests for URL parsing and redaction: a password must never show,
 * whatever characters it holds and however it is given.
 */
import { describe, expect, test } from "bun:test";
import { UsageError } from "../../core/errors.ts";
import { parseDbUrl, redactDeep, redactText, redactUrl, secretsIn, secretValues } from "../../core/db/url.ts";

/** Passwords an attacker (or an unlucky user) would write unencoded into a URL. */
const nasty = [
  "p@ss",
  "p@ss@word",
  "@@@lead",
  "trail@@",
  "pa:ss:wd",
  "pa/ss",
  "p/a@s/s",
  "pa?ss",
  "pa#ss",
  "p%40ss",
  "p%zzss",
  "pässwörd",
  "パスワード",
  "p'a\"s`s",
  "p\\a\\s",
  "***real",
  "a:b@c/d?e#f",
  "pa ss",
  "tab\tpw",
];

/** A 4-character piece of the password found in `out` (messages are chosen not to contain such pieces). */
function leaks(out: string, password: string): string | null {
  if (out.includes(password)) return password;
  for (let i = 0; i + 4 <= password.length; i++) {
    const piece = password.slice(i, i + 4);
    if (piece.includes("*")) continue;
    if (out.includes(piece)) return piece;
  }
  return null;
}

describe("redactText: URL passwords, whatever they contain", () => {
  for (const pw of nasty) {
    const url = `postgres://app:${pw}@db.internal:5432/app`;
    test(`unencoded ${JSON.stringify(pw)}`, () => {
      // In free text a URL ends at a space; a password with spaces is caught as a collected secret (below).
      const inText = /\s/.test(pw) ? [] : [url, `cannot connect to ${url}: refused`, `"${url}"`, `url=${url}, retrying`, `${url}?sslmode=require`];
      for (const text of inText) {
        // Exactly the password is starred: nothing of it left, nothing else lost.
        expect(redactText(text)).toBe(text.replace(`:${pw}@`, ":***@"));
      }
      // redactUrl never throws and hides it too, even for what new URL() rejects.
      expect(redactUrl(url)).toBe("postgres://app:***@db.internal:5432/app");
    });
    test(`as a secret in raw, encoded and decoded forms: ${JSON.stringify(pw)}`, () => {
      const secrets = secretsIn([url]);
      for (const form of [pw, encodeURIComponent(pw)]) {
        expect(redactText(`server said: password "${form}" is wrong`, secrets)).toBe('server said: password "***" is wrong');
      }
    });
  }

  test("redactDeep redacts strings before serialisation: JSON escaping cannot hide a secret", () => {
    const secret = 'p"a\\ss';
    const doc = redactDeep({ error: { message: `bad password ${secret}`, list: [secret, 3], n: null } }, [secret]);
    expect(doc).toEqual({ error: { message: "bad password ***", list: ["***", 3], n: null } });
    // The old way (redacting the serialised text) missed it: the escaped form is not the secret.
    expect(redactText(JSON.stringify({ m: secret }), [secret])).toContain("ss");
  });

  test("the last @ separates userinfo from the host: the password is starred whole, host kept", () => {
    expect(redactText("postgres://u:p@ss@host/db")).toBe("postgres://u:***@host/db");
    expect(redactText("postgresql://u:a@b@c@h:5432/d x")).toBe("postgresql://u:***@h:5432/d x");
    expect(redactText("POSTGRES://u:p@ss@host/db")).toBe("POSTGRES://u:***@host/db");
  });

  test("a user without a password is left alone; two URLs in one text are both redacted", () => {
    expect(redactText("postgres://app@h/db")).toBe("postgres://app@h/db");
    expect(redactText("from postgres://a:one1@h/x to postgresql://b:two2@h/y")).toBe("from postgres://a:***@h/x to postgresql://b:***@h/y");
  });

  test("?password= and sslpassword= query values, and key=value conninfo strings", () => {
    expect(redactText("postgres://u@h/db?sslmode=require&password=hunter2&x=1")).toBe("postgres://u@h/db?sslmode=require&password=***&x=1");
    expect(redactText("postgres://u@h/db?sslpassword=k3y")).toBe("postgres://u@h/db?sslpassword=***");
    expect(redactText("host=db port=5432 password=hunter2 user=app")).toBe("host=db port=5432 password=*** user=app");
    expect(redactText("host=db password = 'with spaces \\' and quote' user=app")).toBe("host=db password = *** user=app");
    expect(redactText("PASSWORD=Hunter2")).toBe("PASSWORD=***");
  });

  test("longer secrets are starred before the shorter ones they contain", () => {
    expect(redactText("token abcdef and abc", ["abc", "abcdef"])).toBe("token *** and ***");
  });

  test("secretsIn finds URL, query and conninfo passwords in flags; secretValues adds encoded and decoded forms", () => {
    const s = secretsIn(["--url", "postgres://u:p%40ss@h/db", "postgres://u@h/db?password=q%20w", "host=h password='x y z'"]);
    for (const v of ["p%40ss", "p@ss", "q%20w", "q w", "x y z"]) expect(s).toContain(v);
    // A URL flag value is one URL to its end, spaces included, also as --url=…
    expect(secretsIn(["--url=postgres://u:sp ace@h/db"])).toContain("sp ace");
    expect(secretsIn(["postgres://u:sp ace@h/db"])).toContain("sp ace");
    expect(secretValues(["a b%zz"])).toEqual(["a b%zz", "a%20b%25zz"]);
  });
});

describe("parseDbUrl", () => {
  const usage = (url: string, source?: string) => {
    try {
      parseDbUrl(url, source);
    } catch (e) {
      expect(e).toBeInstanceOf(UsageError);
      return (e as UsageError).message + "\n" + ((e as UsageError).hint ?? "");
    }
    throw new Error(`${url} was accepted`);
  };

  test("the last @ before the host: user, password and host as libpq reads them", () => {
    const t = parseDbUrl("postgres://app:p@ss@db.internal:6543/shop");
    expect(t).toMatchObject({ user: "app", password: "p@ss", host: "db.internal", port: 6543, database: "shop" });
    expect(parseDbUrl("postgres://app:p%40ss%3Aw@h/d").password).toBe("p@ss:w");
    expect(parseDbUrl("postgres://app:pässwörd@h/d").password).toBe("pässwörd");
  });

  test("a malformed percent-escape is a usage error naming the flag or variable, without the password", () => {
    const m = usage("postgres://u:%zz-s3cret@h/db", "DATABASE_URL");
    expect(m).toContain("DATABASE_URL has a malformed percent-escape in the password");
    expect(m).not.toContain("s3cret");
    expect(usage("postgres://u@h/d%zzb")).toContain("--url has a malformed percent-escape in the database name");
    expect(usage("postgres://u%ZZ@h/db")).toContain("in the user name");
  });

  test("invalid URLs and conninfo strings are usage errors that never echo a password", () => {
    for (const [url, secret] of [
      ["postgres://u:pa/ss@h/db", "pa/ss"],
      ["postgres://u:pa?ss@h/db", "pa?ss"],
      ["postgres://u:pa#ss@h/db", "pa#ss"],
      ["postgres://u:p@ss/w0rd@h/db", "ss/w0rd"],
      ["host=h password=hunter2", "hunter2"],
      ["http://u:hunter2@h/db", "hunter2"],
    ] as const) {
      const m = usage(url);
      expect(leaks(m, secret), m).toBeNull();
    }
    expect(usage("host=h password=hunter2")).toContain("key=value connection strings are not supported");
  });

  test("?password= is the password; connect_timeout is read and checked", () => {
    expect(parseDbUrl("postgres://u@h/db?password=q%20w").password).toBe("q w");
    expect(parseDbUrl("postgres://u@h/db?connect_timeout=3").connectTimeout).toBe(3);
    expect(parseDbUrl("postgres://u@h/db?connect_timeout=0").connectTimeout).toBeUndefined();
    expect(usage("postgres://u@h/db?connect_timeout=soon")).toContain('invalid connect_timeout "soon"');
  });
});
