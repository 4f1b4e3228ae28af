export const TOKEN_SECRET = "5f2b8c1e-9d4a-4e7b-b3c6-0a1d2e3f4a5b";
export const TOKEN_ID = "agent@pve!felhom";
export const TOKEN = `${TOKEN_ID}=${TOKEN_SECRET}`;
