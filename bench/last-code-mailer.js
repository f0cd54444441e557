// @ts-check
// The benches' mailer: keeps only the last code per address, so delivery cost is not measured.

export function lastCodeMailer() {
  /** @type {Map<string, string>} */
  const codes = new Map();
  return {
    codes,
    /** @param {import('npuser').CodeMessage} message */
    send(message) {
      codes.set(message.to, message.code);
      return Promise.resolve();
    },
  };
}
