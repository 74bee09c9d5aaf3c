// English and Japanese text for the wallet, the ballot and the console. The language follows the
// browser (ja* → Japanese) until the person picks one in Settings.

const KEY = 'vcsdk.lang'
export const LANGUAGES = { en: 'English', ja: '日本語' }

const STRINGS = {
  en: {
    'app.name': 'City Wallet',
    'app.skip': 'Skip to content',
    'app.offline': 'You are offline. Connect to the internet and try again.',
    'app.loading': 'Loading…',
    'app.error': 'Something went wrong ({code}). Try again; if it happens again, quote {id}.',
    'app.back': 'Back',
    'app.cancel': 'Cancel',
    'app.close': 'Close',
    'app.confirm': 'Confirm',
    'nav.label': 'Main',
    'nav.wallet': 'Wallet',
    'nav.scan': 'Scan',
    'nav.activity': 'Activity',
    'nav.vote': 'Vote',
    'nav.settings': 'Settings',

    'welcome.title': 'Set up your City Wallet',
    'welcome.intro': 'The city gave you an enrolment code at the service desk or by letter. Enter it to register this phone. A key is made on this phone and never leaves it.',
    'welcome.code': 'Enrolment code',
    'welcome.code.hint': 'For example ABCD-EFGH-IJKL-MNOP. Dashes and letter case do not matter.',
    'welcome.name': 'Name of this phone',
    'welcome.name.default': 'My phone',
    'welcome.submit': 'Register this phone',
    'welcome.done': 'This phone is registered.',
    'error.enrol.not_found': 'This code is unknown, already used or expired. Ask the city for a new one.',
    'error.enrol.conflict': 'This phone is already registered.',
    'error.required': 'Fill in {field}.',

    'wallet.title': 'Your wallet',
    'wallet.offers': 'Offers waiting for you',
    'wallet.offer.item': '{type} from {issuer}',
    'wallet.offer.expires': 'Open until {date}',
    'wallet.offer.review': 'Review offer',
    'wallet.credentials': 'Your credentials',
    'wallet.empty': 'No credentials yet. When the city has checked your identity, an offer appears here; or scan an offer’s QR code.',
    'wallet.issued': 'Stored {date}',
    'wallet.open': 'Show {type}',

    'credential.title': 'Credential',
    'credential.claims': 'What it says',
    'credential.about': 'About this credential',
    'credential.issuer': 'Issuer',
    'credential.type': 'Type',
    'credential.valid': 'Valid until',
    'credential.stored': 'Stored',
    'credential.status': 'Status',
    'credential.status.valid': 'Valid',
    'credential.status.revoked': 'Revoked by the issuer',
    'credential.status.suspended': 'Suspended by the issuer',
    'credential.delete': 'Delete from wallet',
    'credential.delete.confirm': 'Delete this credential from your wallet? You would need a new offer to get it back.',
    'credential.deleted': 'The credential was deleted.',

    'offer.title': 'Credential offer',
    'offer.from': 'From',
    'offer.what': 'Credential',
    'offer.until': 'Open until',
    'offer.pin': 'PIN ({length} digits)',
    'offer.pin.text': 'Code ({length} characters)',
    'offer.pin.hint': 'The city sent this PIN separately, by letter or at the counter.',
    'offer.accept': 'Accept and store',
    'offer.decline': 'Decline',
    'offer.working': 'Signing with this phone’s key…',
    'offer.done': 'The credential is in your wallet.',
    'offer.declined': 'You declined the offer.',
    'offer.closed': 'This offer is {state}.',
    'error.offer.invalid_grant': 'The PIN is wrong, or the offer was already used. Check the PIN and try again.',
    'error.offer.conflict': 'This offer is no longer open.',

    'scan.title': 'Scan a QR code',
    'scan.intro': 'Scan a credential offer from the city or a request from a service.',
    'scan.start': 'Start camera',
    'scan.stop': 'Stop camera',
    'scan.looking': 'Looking for a QR code…',
    'scan.found': 'QR code read.',
    'scan.nocamera': 'The camera is not available. Paste the link instead.',
    'scan.paste': 'Or paste a link',
    'scan.paste.hint': 'A link that starts with openid-credential-offer:// or openid4vp://',
    'scan.open': 'Open link',
    'scan.unknown': 'This is not a credential offer or a service request.',
    'scan.video': 'Camera view',

    'consent.title': 'Share your data?',
    'consent.who': 'Who asks',
    'consent.purpose': 'Purpose',
    'consent.registered': 'Registered with the city',
    'consent.not_registered': 'The city has no registration for this service.',
    'consent.retention.label': 'Keeps the data',
    'consent.retention': '{days} days at most',
    'consent.recipients': 'Passes it to',
    'consent.recipients.none': 'nobody else',
    'consent.policy': 'Privacy notice',
    'consent.wallet_refused': 'Your wallet did not answer this request: the city has not registered the service for it. The service was sent nothing.',
    'consent.shares': 'What you share',
    'consent.withholds': 'What stays on your phone',
    'consent.withholds.none': 'Nothing else: this credential holds only what is asked.',
    'consent.always': 'Always included: the issuer’s signature, the credential type, its validity dates, its revocation check and this phone’s public key.',
    'consent.credential': 'Credential used',
    'consent.share': 'Share',
    'consent.decline': 'Don’t share',
    'consent.unsatisfiable': 'You hold no credential that answers this request. Nothing can be shared.',
    'consent.until': 'Your consent lasts until you withdraw it, or at most until {date}.',
    'consent.expires': 'Answer before {date}.',
    'consent.working': 'Signing with this phone’s key and sending…',
    'consent.shared': 'Shared with {service}.',
    'consent.receipt': 'The service returned a signed receipt. It will be anchored on the blockchain; see Activity.',
    'consent.noreceipt': 'The service returned no valid receipt ({code}).',
    'consent.refused': '{service} refused the data ({code}).',
    'consent.declined': 'You did not share anything.',
    'consent.expired': 'This request has expired. Scan the service’s QR code again.',
    'consent.unknown': 'The service may or may not have received your data. Start again from the service’s QR code.',
    'consent.activity': 'See your activity',

    'activity.title': 'Activity',
    'activity.accesses': 'Who accessed your data',
    'activity.empty': 'No service has accessed your data yet.',
    'activity.accessed': '{service} on {date}',
    'activity.claims': 'Data',
    'activity.purpose': 'Purpose',
    'activity.state.queued': 'Recorded; waiting to be anchored on the blockchain',
    'activity.state.anchoring': 'Being anchored on the blockchain',
    'activity.state.final': 'Anchored on the blockchain',
    'activity.verified': 'Proof checked against the blockchain',
    'activity.unverified': 'Proof not verified',
    'activity.check': 'Check proof',
    'activity.checked': 'Checked the receipt’s proof against the blockchain: it is included in block {block}.',
    'activity.block': 'Block',
    'activity.root': 'Batch root',
    'activity.tx': 'Transaction',
    'activity.consents': 'Your consents',
    'activity.shares': 'What you shared',

    'consents.title': 'Your consents',
    'consents.empty': 'You have not given any consent yet.',
    'consents.given': 'Given {date}',
    'consents.until': 'Until {date}',
    'consents.withdrawn': 'Withdrawn {date}',
    'consents.state.given': 'Active',
    'consents.state.withdrawn': 'Withdrawn',
    'consents.withdraw': 'Withdraw consent',
    'consents.withdraw.confirm': 'Withdraw your consent for {service}? The service may no longer use your data for this purpose.',
    'consents.withdrawn.done': 'Consent withdrawn.',

    'settings.title': 'Settings',
    'settings.language': 'Language',
    'settings.device': 'This phone',
    'settings.devices': 'Your other phones',
    'settings.devices.none': 'No other phones.',
    'settings.device.remove': 'Remove {name}',
    'settings.device.remove.confirm': 'Remove {name}? It will no longer open your wallet.',
    'settings.device.removed': 'Phone removed.',
    'settings.key': 'Device key',
    'settings.key.text': 'P-256 key kept in this browser; it cannot be exported.',
    'settings.logout': 'Log out',
    'settings.loggedout': 'Logged out.',
    'settings.forget': 'Remove wallet from this phone',
    'settings.forget.confirm': 'Remove the wallet and its key from this phone? You need a new enrolment code to use it here again.',
    'settings.about': 'About',
    'settings.about.text': 'Your credentials are stored encrypted by the city’s wallet server. Services see only what you agree to share.',

    'state.pending': 'waiting',
    'state.accepting': 'waiting for your signature',
    'state.redeemed': 'accepted',
    'state.declined': 'declined',
    'state.expired': 'expired',
    'state.failed': 'failed',

    'claim.family_name': 'Family name',
    'claim.given_name': 'Given name',
    'claim.birthdate': 'Date of birth',
    'claim.address': 'Address',
    'claim.address.postal_code': 'Postal code',
    'claim.address.region': 'Prefecture',
    'claim.address.locality': 'City',
    'claim.address.street_address': 'Street address',
    'claim.age_equal_or_over': 'Age checks',
    'claim.age_equal_or_over.18': 'Aged 18 or over',
    'claim.age_equal_or_over.20': 'Aged 20 or over',
    'claim.age_equal_or_over.65': 'Aged 65 or over',
    'claim.resident_since': 'Resident since',
    'claim.verification': 'Identity check',
    'claim.verification.level': 'Assurance level',
    'claim.verification.method': 'How identity was checked',
    'claim.verification.time': 'When identity was checked',
    'claim.election_id': 'Election',
    'claim.eligible': 'Eligible to vote',
    'claim.district': 'District',
    'claim.age_over_18': 'Aged 18 or over',
    'value.true': 'Yes',
    'value.false': 'No',
    'type.ResidentIdentityCredential': 'Resident card',
    'type.VotingEligibilityCredential': 'Voting eligibility',
  },
  ja: {
    'app.name': '市民ウォレット',
    'app.skip': '本文へ移動',
    'app.offline': 'オフラインです。インターネットに接続してからもう一度お試しください。',
    'app.loading': '読み込み中…',
    'app.error': '問題が発生しました（{code}）。もう一度お試しください。繰り返す場合は {id} をお伝えください。',
    'app.back': '戻る',
    'app.cancel': 'キャンセル',
    'app.close': '閉じる',
    'app.confirm': '確定',
    'nav.label': 'メイン',
    'nav.wallet': 'ウォレット',
    'nav.scan': '読み取り',
    'nav.activity': '履歴',
    'nav.vote': '投票',
    'nav.settings': '設定',

    'welcome.title': '市民ウォレットの設定',
    'welcome.intro': '窓口または郵送で受け取った登録コードを入力して、この端末を登録します。鍵はこの端末の中で作られ、外に出ることはありません。',
    'welcome.code': '登録コード',
    'welcome.code.hint': '例：ABCD-EFGH-IJKL-MNOP（ハイフンと大文字・小文字は区別しません）',
    'welcome.name': 'この端末の名前',
    'welcome.name.default': 'わたしのスマートフォン',
    'welcome.submit': 'この端末を登録する',
    'welcome.done': 'この端末を登録しました。',
    'error.enrol.not_found': 'このコードは無効、使用済み、または期限切れです。市に新しいコードを依頼してください。',
    'error.enrol.conflict': 'この端末はすでに登録されています。',
    'error.required': '{field}を入力してください。',

    'wallet.title': 'ウォレット',
    'wallet.offers': '受け取り待ちの証明書',
    'wallet.offer.item': '{issuer} からの {type}',
    'wallet.offer.expires': '{date} まで受け取れます',
    'wallet.offer.review': '内容を確認する',
    'wallet.credentials': 'あなたの証明書',
    'wallet.empty': 'まだ証明書はありません。市が本人確認を終えると、ここに受け取りの案内が表示されます。QRコードを読み取ることもできます。',
    'wallet.issued': '{date} に保存',
    'wallet.open': '{type} を表示',

    'credential.title': '証明書',
    'credential.claims': '記載内容',
    'credential.about': 'この証明書について',
    'credential.issuer': '発行者',
    'credential.type': '種類',
    'credential.valid': '有効期限',
    'credential.stored': '保存日',
    'credential.status': '状態',
    'credential.status.valid': '有効',
    'credential.status.revoked': '発行者により失効',
    'credential.status.suspended': '発行者により一時停止',
    'credential.delete': 'ウォレットから削除',
    'credential.delete.confirm': 'この証明書をウォレットから削除しますか？再び受け取るには新しい発行が必要です。',
    'credential.deleted': '証明書を削除しました。',

    'offer.title': '証明書の受け取り',
    'offer.from': '発行元',
    'offer.what': '証明書',
    'offer.until': '受け取り期限',
    'offer.pin': '暗証番号（{length}桁）',
    'offer.pin.text': 'コード（{length}文字）',
    'offer.pin.hint': '暗証番号は郵送または窓口で別にお知らせしています。',
    'offer.accept': '受け取って保存する',
    'offer.decline': '受け取らない',
    'offer.working': 'この端末の鍵で署名しています…',
    'offer.done': '証明書をウォレットに保存しました。',
    'offer.declined': '受け取りを断りました。',
    'offer.closed': 'この受け取りは「{state}」です。',
    'error.offer.invalid_grant': '暗証番号が違うか、すでに使われています。確認してもう一度入力してください。',
    'error.offer.conflict': 'この受け取りはもう開いていません。',

    'scan.title': 'QRコードの読み取り',
    'scan.intro': '市からの証明書の案内や、サービスからの提示依頼を読み取ります。',
    'scan.start': 'カメラを起動',
    'scan.stop': 'カメラを停止',
    'scan.looking': 'QRコードを探しています…',
    'scan.found': 'QRコードを読み取りました。',
    'scan.nocamera': 'カメラを使えません。リンクを貼り付けてください。',
    'scan.paste': 'またはリンクを貼り付け',
    'scan.paste.hint': 'openid-credential-offer:// または openid4vp:// で始まるリンク',
    'scan.open': 'リンクを開く',
    'scan.unknown': '証明書の案内でも、サービスからの依頼でもありません。',
    'scan.video': 'カメラの映像',

    'consent.title': '情報を提供しますか？',
    'consent.who': '依頼元',
    'consent.purpose': '利用目的',
    'consent.registered': '市に登録済みのサービス',
    'consent.not_registered': 'このサービスは市に登録されていません。',
    'consent.retention.label': '保存期間',
    'consent.retention': '最長 {days} 日',
    'consent.recipients': '第三者への提供',
    'consent.recipients.none': 'なし',
    'consent.policy': 'プライバシーポリシー',
    'consent.wallet_refused': 'この依頼にはウォレットが応答しませんでした。市はこのサービスにこの依頼を登録していません。サービスには何も送っていません。',
    'consent.shares': '提供する情報',
    'consent.withholds': '提供しない情報（端末に残ります）',
    'consent.withholds.none': 'ほかにはありません。この証明書には依頼された情報だけが含まれています。',
    'consent.always': '常に含まれるもの：発行者の署名、証明書の種類、有効期間、失効確認の情報、この端末の公開鍵。',
    'consent.credential': '使う証明書',
    'consent.share': '提供する',
    'consent.decline': '提供しない',
    'consent.unsatisfiable': 'この依頼に応えられる証明書がありません。提供できる情報はありません。',
    'consent.until': '同意は、撤回するまで、長くても {date} まで有効です。',
    'consent.expires': '{date} までにお答えください。',
    'consent.working': 'この端末の鍵で署名して送信しています…',
    'consent.shared': '{service} に提供しました。',
    'consent.receipt': 'サービスから署名付きの受領書が届きました。ブロックチェーンに記録されます。「履歴」で確認できます。',
    'consent.noreceipt': 'サービスから有効な受領書が届きませんでした（{code}）。',
    'consent.refused': '{service} が情報を受け付けませんでした（{code}）。',
    'consent.declined': '何も提供しませんでした。',
    'consent.expired': 'この依頼は期限切れです。サービスのQRコードをもう一度読み取ってください。',
    'consent.unknown': 'サービスに情報が届いたかどうか分かりません。サービスのQRコードからやり直してください。',
    'consent.activity': '履歴を見る',

    'activity.title': '履歴',
    'activity.accesses': 'あなたの情報を利用したサービス',
    'activity.empty': 'まだ情報を利用したサービスはありません。',
    'activity.accessed': '{service}（{date}）',
    'activity.claims': '情報',
    'activity.purpose': '利用目的',
    'activity.state.queued': '記録済み。ブロックチェーンへの記録を待っています',
    'activity.state.anchoring': 'ブロックチェーンに記録しています',
    'activity.state.final': 'ブロックチェーンに記録されました',
    'activity.verified': 'ブロックチェーン上の証明を確認済み',
    'activity.unverified': '証明は未確認です',
    'activity.check': '証明を確認する',
    'activity.checked': '受領書の証明をブロックチェーンと照合しました。ブロック {block} に含まれています。',
    'activity.block': 'ブロック',
    'activity.root': 'バッチのルート',
    'activity.tx': 'トランザクション',
    'activity.consents': 'あなたの同意',
    'activity.shares': '提供した情報',

    'consents.title': 'あなたの同意',
    'consents.empty': 'まだ同意はありません。',
    'consents.given': '{date} に同意',
    'consents.until': '{date} まで',
    'consents.withdrawn': '{date} に撤回',
    'consents.state.given': '有効',
    'consents.state.withdrawn': '撤回済み',
    'consents.withdraw': '同意を撤回する',
    'consents.withdraw.confirm': '{service} への同意を撤回しますか？サービスはこの目的であなたの情報を使えなくなります。',
    'consents.withdrawn.done': '同意を撤回しました。',

    'settings.title': '設定',
    'settings.language': '言語',
    'settings.device': 'この端末',
    'settings.devices': 'ほかの端末',
    'settings.devices.none': 'ほかの端末はありません。',
    'settings.device.remove': '{name} を削除',
    'settings.device.remove.confirm': '{name} を削除しますか？その端末ではウォレットを開けなくなります。',
    'settings.device.removed': '端末を削除しました。',
    'settings.key': '端末の鍵',
    'settings.key.text': 'このブラウザーに保管された P-256 鍵です。取り出すことはできません。',
    'settings.logout': 'ログアウト',
    'settings.loggedout': 'ログアウトしました。',
    'settings.forget': 'この端末からウォレットを削除',
    'settings.forget.confirm': 'この端末からウォレットと鍵を削除しますか？再び使うには新しい登録コードが必要です。',
    'settings.about': 'このアプリについて',
    'settings.about.text': '証明書は市のウォレットサーバーに暗号化して保存されます。サービスに見えるのは、あなたが提供に同意した情報だけです。',

    'state.pending': '受け取り待ち',
    'state.accepting': '署名待ち',
    'state.redeemed': '受け取り済み',
    'state.declined': '辞退',
    'state.expired': '期限切れ',
    'state.failed': '失敗',

    'claim.family_name': '姓',
    'claim.given_name': '名',
    'claim.birthdate': '生年月日',
    'claim.address': '住所',
    'claim.address.postal_code': '郵便番号',
    'claim.address.region': '都道府県',
    'claim.address.locality': '市区町村',
    'claim.address.street_address': '町名・番地',
    'claim.age_equal_or_over': '年齢確認',
    'claim.age_equal_or_over.18': '18歳以上',
    'claim.age_equal_or_over.20': '20歳以上',
    'claim.age_equal_or_over.65': '65歳以上',
    'claim.resident_since': '住民となった日',
    'claim.verification': '本人確認',
    'claim.verification.level': '保証レベル',
    'claim.verification.method': '本人確認の方法',
    'claim.verification.time': '本人確認の日時',
    'claim.election_id': '選挙',
    'claim.eligible': '投票資格',
    'claim.district': '選挙区',
    'claim.age_over_18': '18歳以上',
    'value.true': 'はい',
    'value.false': 'いいえ',
    'type.ResidentIdentityCredential': '住民証明書',
    'type.VotingEligibilityCredential': '投票資格証明書',
  },
}

let current = null

export function language() {
  if (current) return current
  const saved = localStorage.getItem(KEY)
  current = saved in STRINGS ? saved : (navigator.language || 'en').toLowerCase().startsWith('ja') ? 'ja' : 'en'
  return current
}

export function setLanguage(lang) {
  if (!(lang in STRINGS)) return
  current = lang
  localStorage.setItem(KEY, lang)
  document.documentElement.lang = lang
}

/** Add a page's own strings ({en: {...}, ja: {...}}). */
export function extend(more) {
  for (const [lang, table] of Object.entries(more)) Object.assign(STRINGS[lang], table)
}

export function t(key, vars = {}) {
  const table = STRINGS[language()]
  const text = table[key] ?? STRINGS.en[key] ?? key
  return text.replace(/\{(\w+)\}/g, (_, name) => (name in vars ? String(vars[name]) : `{${name}}`))
}

export function has(key) {
  return key in STRINGS[language()] || key in STRINGS.en
}

export function formatDate(iso, { time = false } = {}) {
  if (!iso) return ''
  const date = typeof iso === 'number' ? new Date(iso * 1000) : new Date(iso)
  const options = time ? { dateStyle: 'medium', timeStyle: 'short' } : { dateStyle: 'medium' }
  return new Intl.DateTimeFormat(language() === 'ja' ? 'ja-JP' : 'en-GB', options).format(date)
}

/** A claim path (["address", "locality"]) as a label in the current language. */
export function claimLabel(path) {
  const steps = (Array.isArray(path) ? path : String(path).split('.')).map((s) => (s === null ? '*' : String(s)))
  const key = `claim.${steps.join('.')}`
  return has(key) ? t(key) : steps.join(' › ')
}

export function claimValue(value) {
  if (value === true || value === false) return t(`value.${value}`)
  if (typeof value === 'string' && /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/.test(value)) return formatDate(value, { time: true })
  if (value === null || value === undefined) return ''
  return typeof value === 'object' ? JSON.stringify(value) : String(value)
}

/** A credential type's display name from its vct (the last path segment names the type). */
export function typeLabel(vct) {
  const name = String(vct || '').split(/[/:#]/).filter(Boolean).pop() || ''
  return has(`type.${name}`) ? t(`type.${name}`) : name || String(vct || '')
}
